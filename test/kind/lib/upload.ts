// Puts an archive of scripts/provision/lib/image-archive.sh (one uncompressed layer, docker save's
// format) into a registry as an OCI image, through the registry's HTTP API. `docker push` of the
// same image compresses its layer first: for the 1.1 GB kind node image that took 46–100 s on two
// cores, the largest part of the tier's setup. OCI allows an uncompressed layer
// (application/vnd.oci.image.layer.v1.tar), which the blob's digest then equals the diff ID.
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';

interface ArchiveManifest {
  Config: string;
  Layers: string[];
}

/** One file of the archive, as bytes (small files only). */
async function member(archive: string, path: string): Promise<Buffer> {
  const r = await execa('tar', ['-xOf', archive, path], { encoding: 'buffer', stripFinalNewline: false });
  return Buffer.from(r.stdout);
}

/** The size of one file of the archive, from its header (GNU tar's verbose listing). */
async function memberSize(archive: string, path: string): Promise<number> {
  const r = await execa('tar', ['-tvf', archive, path]);
  const size = Number(r.stdout.trim().split(/\s+/)[2]);
  if (!Number.isSafeInteger(size)) throw new Error(`no size for ${path} in ${archive}: ${r.stdout}`);
  return size;
}

async function exists(registry: string, repo: string, digest: string): Promise<boolean> {
  const r = await fetch(`http://${registry}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  return r.status === 200;
}

/** A monolithic upload (POST, then PUT with the digest), the body streamed from `tar -xO`. */
async function putBlob(registry: string, repo: string, digest: string, size: number, source: { archive: string; path: string } | Buffer): Promise<void> {
  if (await exists(registry, repo, digest)) return;
  const start = await fetch(`http://${registry}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  const location = start.headers.get('location');
  if (start.status !== 202 || !location) throw new Error(`registry ${registry}: upload of ${digest} refused: HTTP ${start.status} ${await start.text()}`);
  await start.arrayBuffer();
  const url = new URL(location, `http://${registry}`);
  url.searchParams.set('digest', digest);
  const answer = new Promise<void>((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('error', reject);
      res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`registry ${registry}: PUT ${digest}: HTTP ${res.statusCode} ${body}`))));
    });
    req.on('error', reject);
    if (Buffer.isBuffer(source)) {
      req.end(source);
      return;
    }
    // tar's output into the request; a failure on either side ends both (no tar left blocked on
    // a full pipe, no half-sent upload left open)
    const tar = execa('tar', ['-xOf', source.archive, source.path], { buffer: false });
    pipeline(tar.stdout, req).catch((e: unknown) => {
      tar.kill();
      reject(e instanceof Error ? e : new Error(String(e)));
    });
    tar.catch((e: unknown) => {
      req.destroy(e instanceof Error ? e : new Error(String(e)));
      reject(e instanceof Error ? e : new Error(String(e)));
    });
  });
  await answer;
}

/** Uploads the image and tags it; resolves to the manifest's digest (what a pin by digest names). */
export async function uploadArchive(archive: string, registry: string, repo: string, tag: string): Promise<string> {
  const [entry] = JSON.parse((await member(archive, 'manifest.json')).toString('utf8')) as ArchiveManifest[];
  if (!entry || entry.Layers.length === 0) throw new Error(`${archive}: no image in its manifest.json`);
  const config = await member(archive, entry.Config);
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  const layers = [];
  for (const path of entry.Layers) {
    // image-archive.sh names each layer's folder by the sha256 of its tar
    const hex = /^([0-9a-f]{64})\/layer\.tar$/.exec(path)?.[1];
    if (!hex) throw new Error(`${archive}: layer ${path} is not named by its digest`);
    const size = await memberSize(archive, path);
    await putBlob(registry, repo, `sha256:${hex}`, size, { archive, path });
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${hex}`, size });
  }
  await putBlob(registry, repo, configDigest, config.length, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers,
    }),
  );
  const put = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  if (put.status !== 201) throw new Error(`registry ${registry}: manifest ${repo}:${tag}: HTTP ${put.status} ${await put.text()}`);
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  const said = put.headers.get('docker-content-digest');
  if (said !== digest) throw new Error(`registry ${registry}: manifest digest ${said}, expected ${digest}`);
  return digest;
}
