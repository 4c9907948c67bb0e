// `doctor --install-tools` for tilt: the official release archive named as tilt's goreleaser
// config names it (tilt v0.37.6 .goreleaser.yml `archives`/`checksum`, scripts/install.sh), checked
// against checksums.txt and unpacked with the real tar. The release host cannot be reached here, so
// a local HTTP server serves an archive built the same way (a `tilt` at the top of a .tar.gz).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { type DownloadServer, startDownloadServer } from '../../helpers/download-server.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readToolPins } from '../../../scripts/lib/config/pins.js';
import { downloads, installTool, parseChecksum, pathHint, tiltAsset } from '../../../scripts/lib/tools/install.js';
import { execaRunner } from '../../../scripts/lib/tools/runner.js';
import { Tar } from '../../../scripts/lib/tools/tar.js';
import { ROOT } from '../../helpers/fake-tools.js';

describe('tilt release names and pins', () => {
  it('names the archives and the checksum file as tilt publishes them', () => {
    const pins = readToolPins(ROOT);
    expect(tiltAsset('v0.37.6', 'linux', 'x64')).toBe('tilt.0.37.6.linux.x86_64.tar.gz');
    expect(tiltAsset('v0.37.6', 'linux', 'arm64')).toBe('tilt.0.37.6.linux.arm64.tar.gz');
    expect(tiltAsset('v0.37.6', 'darwin', 'arm64')).toBe('tilt.0.37.6.mac.arm64.tar.gz');
    expect(tiltAsset('v0.37.6', 'darwin', 'x64')).toBe('tilt.0.37.6.mac.x86_64.tar.gz');
    const tilt = downloads(pins, 'linux', 'x64').find((d) => d.tool === 'tilt')!;
    expect(tilt).toMatchObject({
      version: pins.tilt.version,
      url: `https://github.com/tilt-dev/tilt/releases/download/${pins.tilt.version}/tilt.${pins.tilt.version.slice(1)}.linux.x86_64.tar.gz`,
      checksumUrl: `https://github.com/tilt-dev/tilt/releases/download/${pins.tilt.version}/checksums.txt`,
      archiveMember: 'tilt',
    });
  });

  it("versions.json's tilt minimum is the Tiltfile's version_settings constraint (one truth)", () => {
    const constraint = /version_settings\(\s*constraint\s*=\s*'>=([\d.]+)'/.exec(readFileSync(join(ROOT, 'Tiltfile'), 'utf8'))?.[1];
    expect(constraint, 'the Tiltfile declares version_settings(constraint=">=x.y.z")').toBeDefined();
    expect(readToolPins(ROOT).tilt.minimum).toBe(`v${constraint}`);
  });

  it('picks the named line of a checksum list', () => {
    const a = 'a'.repeat(64);
    const b = 'b'.repeat(64);
    const list = `${a}  tilt.0.37.6.linux.arm64.tar.gz\n${b}  tilt.0.37.6.linux.x86_64.tar.gz\n`;
    expect(parseChecksum(list, 'tilt.0.37.6.linux.x86_64.tar.gz')).toBe(b);
    expect(() => parseChecksum(list, 'tilt.0.37.6.mac.arm64.tar.gz')).toThrow(/does not list tilt\.0\.37\.6\.mac\.arm64\.tar\.gz/);
  });

  it('doctor prints the PATH line only when .mailkind/bin holds a tool and is not on PATH', () => {
    const bin = '/repo/.mailkind/bin';
    const has = (tools: string[]) => (p: string) => tools.some((t) => p === `${bin}/${t}`);
    expect(pathHint(bin, '/usr/bin:/bin', has(['kind', 'tilt']))).toBe(
      `${bin} holds kind, tilt: the npm run commands use it; for \`tilt up\` and your shell, put it on PATH:\n  export PATH="${bin}:$PATH"`,
    );
    expect(pathHint(bin, `${bin}:/usr/bin`, has(['kind']))).toBeUndefined();
    expect(pathHint(bin, '/usr/bin', has([]))).toBeUndefined();
  });
});

describe('doctor --install-tools: the tilt release archive', () => {
  const version = 'v0.37.6';
  const asset = tiltAsset(version, 'linux', 'x64');
  let archive: Buffer;
  let sums = '';
  let server: DownloadServer;
  let base = '';

  beforeAll(async () => {
    const src = mkdtempSync(join(tmpdir(), 'mailkind-tilt-src-'));
    writeFileSync(join(src, 'tilt'), '#!/bin/sh\necho "v0.37.6, built 2026-07-28"\n', { mode: 0o755 });
    writeFileSync(join(src, 'LICENSE'), 'Apache-2.0\n');
    await execa('tar', ['-czf', join(src, asset), '-C', src, 'LICENSE', 'tilt']);
    archive = readFileSync(join(src, asset));
    sums = `${'0'.repeat(64)}  tilt.0.37.6.linux.arm64.tar.gz\n${createHash('sha256').update(archive).digest('hex')}  ${asset}\n`;
    server = await startDownloadServer((url) => {
      if (url === `/${version}/checksums.txt`) return sums;
      if (url === `/${version}/${asset}`) return archive;
      return undefined;
    });
    base = server.base;
  });
  afterAll(() => server.close());

  const tiltDownload = () => downloads(readToolPins(ROOT), 'linux', 'x64', { MAILKIND_TILT_DOWNLOAD_BASE: base }).find((d) => d.tool === 'tilt')!;
  const tar = new Tar(execaRunner());

  it('verifies the archive against checksums.txt and installs the tilt inside it', async () => {
    const bin = join(mkdtempSync(join(tmpdir(), 'mailkind-bin-')), 'bin');
    const path = await installTool(tiltDownload(), bin, fetch, tar);
    expect(path).toBe(join(bin, 'tilt'));
    expect(statSync(path).mode & 0o111).not.toBe(0);
    expect((await execa(path, ['version'])).stdout).toBe('v0.37.6, built 2026-07-28');
    expect(readdirSync(bin)).toEqual(['tilt']); // no archive or unpack directory left behind
  });

  it('installs nothing when the archive does not match its published checksum', async () => {
    const saved = sums;
    sums = `${'1'.repeat(64)}  ${asset}\n`;
    try {
      const bin = mkdtempSync(join(tmpdir(), 'mailkind-bin-'));
      await expect(installTool(tiltDownload(), bin, fetch, tar)).rejects.toThrow(/tilt v0\.37\.6: checksum mismatch .*not installed/);
      expect(existsSync(join(bin, 'tilt'))).toBe(false);
      expect(readdirSync(bin)).toEqual([]);
    } finally {
      sums = saved;
    }
  });

  it('says so when the verified archive has no tilt in it', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'mailkind-bin-'));
    mkdirSync(join(bin, 'x'));
    await expect(installTool({ ...tiltDownload(), archiveMember: 'tilt-missing' }, bin, fetch, tar)).rejects.toThrow(/the release archive has no tilt-missing/);
    expect(readdirSync(bin)).toEqual(['x']);
  });
});
