// The sink's Dockerfile cannot be built here (no Docker engine); these checks hold it to what the
// rest of the repository says: pinned base, non-root, health check, ports, paths and env names.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildCli } from '../../../sinks/smtp-sink/src/cli.js';
import { DEFAULT_CONFIG } from '../../../sinks/smtp-sink/src/config.js';

const dockerfile = readFileSync('sinks/smtp-sink/Dockerfile', 'utf8');
const ignore = readFileSync('sinks/smtp-sink/Dockerfile.dockerignore', 'utf8');
const sinkPkg = JSON.parse(readFileSync('sinks/smtp-sink/package.json', 'utf8')) as { name: string; scripts: { build: string } };
// instructions with continuation lines joined
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = instructions.join('\n').split(/^FROM /m).slice(1);
const runtime = stages.at(-1) ?? '';

describe('sinks/smtp-sink/Dockerfile', () => {
  it('pins its base image to an exact release', () => {
    const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(instructions.join('\n'))?.[1];
    expect(arg).toMatch(/^node:\d+\.\d+\.\d+-alpine\d+\.\d+$/);
    for (const from of instructions.filter((l) => l.startsWith('FROM '))) expect(from).toMatch(/^FROM (--platform=\$\{BUILDPLATFORM\} )?\$\{NODE_IMAGE\} AS \w+$/);
  });

  it('needs no frontend image from a registry (no `# syntax=` directive)', () => {
    expect(dockerfile).not.toMatch(/^#\s*syntax=/im);
  });

  it('builds for another platform without emulation: only the build stage runs commands, on the builder\'s platform', () => {
    // a cross-platform `npm run bundle` must not need QEMU/binfmt (finding 12)
    const runs = stages.map((st) => ({ from: st.split('\n')[0]!, runs: /^RUN /m.test(st) }));
    for (const st of runs.filter((x) => x.runs)) expect(st.from).toMatch(/^--platform=\$\{BUILDPLATFORM\} /);
    expect(runs.filter((x) => x.from.startsWith('--platform=')).map((x) => x.from)).toEqual(['--platform=${BUILDPLATFORM} ${NODE_IMAGE} AS build']);
  });

  it('is multi-stage, and the runtime stage runs as non-root with a health check', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\/healthz/m);
    expect(runtime).not.toMatch(/^RUN /m); // nothing installed at runtime: no native dependencies
  });

  it('exposes the ports the sink listens on by default', () => {
    expect(runtime).toMatch(new RegExp(`^EXPOSE ${DEFAULT_CONFIG.smtpPort} ${DEFAULT_CONFIG.httpPort}$`, 'm'));
    expect(runtime).toMatch(/SINK_HOST=0\.0\.0\.0/);
  });

  it('sets only environment variables the sink reads', () => {
    const known = new Set(buildCli().options.map((o) => o.envVar).filter(Boolean));
    const set = [...runtime.matchAll(/\b(SINK_[A-Z_]+)=/g)].map((m) => m[1]);
    expect(set.length).toBeGreaterThan(0);
    for (const name of set) expect(known, name).toContain(name);
  });

  it('builds the workspace by its real name and runs the bundle it produces', () => {
    expect(dockerfile).toContain(`--workspace ${sinkPkg.name}`);
    const outfile = /--outfile=(\S+)/.exec(sinkPkg.scripts.build)?.[1];
    expect(outfile).toBe('dist/sink.mjs');
    expect(runtime).toMatch(/^ENTRYPOINT \["node", "dist\/sink\.mjs"\]$/m);
  });

  it('copies only files that exist and that the .dockerignore lets through', () => {
    const allowed = ignore
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    const sources = instructions
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      const path = src.replace(/\/$/, '');
      expect(existsSync(path), path).toBe(true);
      expect(allowed.some((a) => path === a || path.startsWith(a + '/')), `${path} is excluded by Dockerfile.dockerignore`).toBe(true);
    }
  });
});
