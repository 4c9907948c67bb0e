// Who may post log records to the journey: loopback and the private ranges a cluster's pods and
// Services use, not the internet. The sink's port is on 127.0.0.1 on the host and inside the
// cluster otherwise, so this only matters when someone exposes it (docs/journey.md).
import { BlockList, isIPv4 } from 'node:net';

const allowed = new BlockList();
for (const [net, bits] of [
  ['127.0.0.0', 8],
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['100.64.0.0', 10], // carrier-grade NAT, used by some CNIs and VPNs
] as const) {
  allowed.addSubnet(net, bits, 'ipv4');
}
allowed.addAddress('::1', 'ipv6');
allowed.addSubnet('fc00::', 7, 'ipv6'); // unique local addresses
allowed.addSubnet('fe80::', 10, 'ipv6');

export function mayPostRecords(address: string): boolean {
  // an IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIPv4(v4)) return allowed.check(v4, 'ipv4');
  try {
    return allowed.check(address, 'ipv6');
  } catch {
    return false;
  }
}
