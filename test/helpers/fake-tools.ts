// A temporary world for running the real entry points (scripts/*.ts) against the fake docker,
// kind and kubectl of test/fixtures/fake-tools: its own PATH, state file, command log, state dir
// (secrets, overlays) and free host ports, so tests neither touch the machine nor each other.
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { PORT_KEYS, PORTS } from '../../scripts/lib/settings.js';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const FAKE = join(ROOT, 'test/fixtures/fake-tools/fake-tools.mjs');
const TSX = join(ROOT, 'node_modules/.bin/tsx');

/** The real kubectl (for `kubectl kustomize`), or undefined when the machine has none. */
export function realKubectl(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir, 'kubectl');
    if (dir && existsSync(p) && !p.includes('mailkind-fake-')) return p;
  }
  return undefined;
}

export type FakeState = Record<string, unknown>;

export interface FakeWorld {
  dir: string;
  env: Record<string, string>;
  ports: Record<string, number>;
  registryPort: number;
  /** every fake command run so far, as argv arrays with the tool first */
  calls(): string[][];
  state(): FakeState & { applied: Record<string, string>; clusters: string[]; containers: Record<string, unknown>; nodeImages: Record<string, string[]> };
  setState(patch: FakeState): void;
  secretsPath: string;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export async function fakeWorld(initial: FakeState = {}): Promise<FakeWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'mailkind-fake-'));
  const bin = join(dir, 'bin');
  const statePath = join(dir, 'state.json');
  const logPath = join(dir, 'calls.jsonl');
  writeFileSync(logPath, '');
  writeFileSync(statePath, JSON.stringify(initial));
  await import('node:fs/promises').then((fs) => fs.mkdir(bin));
  for (const tool of ['docker', 'kind', 'kubectl']) {
    const shim = join(bin, tool);
    writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${FAKE}" ${tool} "$@"\n`);
    chmodSync(shim, 0o755);
  }
  const ports: Record<string, number> = {};
  const env: Record<string, string> = {
    PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin`,
    HOME: dir,
    FAKE_STATE: statePath,
    FAKE_LOG: logPath,
    REAL_KUBECTL: realKubectl() ?? '/nonexistent/kubectl',
    MAILKIND_STATE_DIR: join(dir, 'state'),
    CI: 'true',
  };
  // the kernel may hand out a just-closed port again: keep them distinct
  const taken = new Set<number>();
  const distinctPort = async () => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  for (const key of PORT_KEYS) {
    ports[key] = await distinctPort();
    env[PORTS[key].env] = String(ports[key]);
  }
  const registryPort = await distinctPort();
  env.MAILKIND_REGISTRY_PORT = String(registryPort);
  return {
    dir,
    env,
    ports,
    registryPort,
    secretsPath: join(dir, 'state', 'secrets.json'),
    calls: () =>
      readFileSync(logPath, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[]),
    state: () => JSON.parse(readFileSync(statePath, 'utf8')) as ReturnType<FakeWorld['state']>,
    setState: (patch) => writeFileSync(statePath, JSON.stringify({ ...(JSON.parse(readFileSync(statePath, 'utf8')) as FakeState), ...patch })),
  };
}

export interface EntryResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs scripts/<name>.ts as `npm run <name>` does (tsx), in the world's environment. */
export async function runEntry(name: string, args: string[], env: Record<string, string>): Promise<EntryResult> {
  const started = performance.now();
  const r = await execa(TSX, [join(ROOT, 'scripts', `${name}.ts`), ...args], { env, extendEnv: false, reject: false, cwd: ROOT, timeout: 60_000 });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), ms: performance.now() - started };
}

/** Calls that change something (what "a second up changes nothing" is about). */
export function mutatingCalls(calls: string[][]): string[][] {
  return calls.filter((c) => {
    const line = c.join(' ');
    if (c[0] === 'kind') return /^kind (create|delete|load)/.test(line);
    if (c[0] === 'docker') return /^docker (pull|run|start|rm|network connect|image save|image load|image push)/.test(line) || /cat > /.test(line);
    return false;
  });
}
