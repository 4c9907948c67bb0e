// A temporary world for running the real entry points (scripts/*.ts) against fake docker, kind
// and kubectl executables on PATH: bash shims that hand their argv (and stdin) over loopback TCP
// to test/fixtures/fake-tools/fake-cli.mjs in this process, which answers like the real CLI and
// records the call. Each world has its own PATH, state, state dir (secrets, overlays) and free
// host ports, so tests neither touch the machine nor each other.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { freePorts } from '../../bench/lib/net.js';
import { PORT_KEYS, PORTS } from '../../scripts/lib/config/settings.js';
import { DEFAULT_STATE, runFake, type FakeState } from '../fixtures/fake-tools/fake-cli.mjs';
import { ROOT, tsEntry } from './entry-point.js';

// the repository root, as entry-point.ts finds it (one definition for the test helpers)
export { ROOT };

/** The real kubectl (for `kubectl kustomize`), or undefined when the machine has none. */
export function realKubectl(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir, 'kubectl');
    if (dir && existsSync(p) && !p.includes('mailkind-fake-')) return p;
  }
  return undefined;
}

export interface FakeWorld {
  dir: string;
  env: Record<string, string>;
  ports: Record<string, number>;
  registryPort: number;
  /** every fake command run so far, as argv arrays with the tool first */
  calls(): string[][];
  state(): FakeState;
  setState(patch: Partial<FakeState>): void;
  secretsPath: string;
}

/** The shim: argv and stdin out as NUL-separated fields, exit code and base64 stdout/stderr back. */
function shim(tool: string, port: number): string {
  return `#!/usr/bin/env bash
# fake ${tool} for mailkind's lifecycle tests (test/helpers/fake-tools.ts)
export LC_ALL=C
need=0
for a in "$@"; do case "$a" in -|-i) need=1 ;; esac; done
data=''
if [ "$need" = 1 ]; then data=$(cat; printf x); data=\${data%x}; fi
exec 3<>/dev/tcp/127.0.0.1/${port} || exit 99
{ printf '%s\\0' ${tool} "$#" "$@" "\${#data}"; printf '%s' "$data"; } >&3
IFS= read -r code <&3
IFS= read -r o <&3
IFS= read -r e <&3
[ -n "$o" ] && printf '%s' "$o" | base64 -d
[ -n "$e" ] && printf '%s' "$e" | base64 -d >&2
exit "$code"
`;
}

/**
 * Real listeners on the host ports a running fake kind node publishes, as kind's port mappings
 * are on the real engine: `up` asks its URLs from this machine (lifecycle/reach.ts). They answer
 * for the whole stack behind the mapping, 503 while state.hostPortFailures lasts, then 200: a
 * stand-in that knows nothing of the workloads.
 */
function publishedPorts(state: FakeState): () => Promise<void> {
  const open = new Map<number, Server>();
  const answer = (_req: IncomingMessage, res: ServerResponse) => {
    const failing = state.hostPortFailures > 0;
    if (failing) state.hostPortFailures -= 1;
    res.writeHead(failing ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: failing ? 'starting' : 'ok' }));
  };
  return async () => {
    const want = new Set<number>();
    for (const c of Object.values(state.containers)) {
      if (!c.running || !c.labels?.['io.x-k8s.kind.cluster']) continue;
      // 6443 is the API server's mapping: the fake kubeconfig points elsewhere
      for (const [port, bindings] of Object.entries(c.ports ?? {})) if (port !== '6443/tcp') for (const b of bindings) want.add(Number(b.HostPort));
    }
    for (const [port, server] of open) {
      if (want.has(port)) continue;
      open.delete(port);
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
    }
    for (const port of want) {
      if (open.has(port)) continue;
      const server = createHttpServer(answer);
      server.unref();
      // a port another program holds stays closed here: `up` then reports it as silent, after
      // its --timeout; say why in the test's output
      const ok = await new Promise<boolean>((res) => {
        server.once('error', (e) => {
          console.warn(`fake kind: cannot publish 127.0.0.1:${port}: ${e.message}`);
          res(false);
        });
        server.listen(port, '127.0.0.1', () => res(true));
      });
      if (ok) open.set(port, server);
    }
  };
}

/** Serves one world's fake CLI: parses a shim's request, runs it, answers. */
function serve(state: FakeState, calls: string[][], kubectl: string): Promise<number> {
  const publish = publishedPorts(state);
  const server = createServer((socket: Socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      // fields: tool, argc, argv..., stdin length; then the stdin bytes
      const fields: string[] = [];
      let at = 0;
      for (;;) {
        const nul = buf.indexOf(0, at);
        if (nul === -1) return;
        fields.push(buf.subarray(at, nul).toString('utf8'));
        at = nul + 1;
        if (fields.length >= 2 && fields.length === Number(fields[1]) + 3) break;
      }
      const length = Number(fields.at(-1));
      if (buf.length - at < length) return;
      const [tool, , ...rest] = fields;
      const args = rest.slice(0, -1);
      calls.push([tool!, ...args]);
      const r = runFake(state, tool!, args, buf.subarray(at, at + length).toString('utf8'), kubectl);
      void publish().then(() => socket.end(`${r.code}\n${Buffer.from(r.stdout).toString('base64')}\n${Buffer.from(r.stderr).toString('base64')}\n`));
    });
    socket.on('error', () => socket.destroy());
  });
  server.unref();
  return new Promise((res) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      res(typeof a === 'object' && a ? a.port : 0);
    }),
  );
}

export interface WorldOptions {
  /** which CLIs are fakes (default all three); the cluster tier fakes only docker and kind */
  fake?: readonly ('docker' | 'kind' | 'kubectl')[];
  /** directories put on PATH right after the fakes (e.g. where a real kubectl is) */
  path?: readonly string[];
  /** extra environment (e.g. KUBECONFIG of a real control plane) */
  env?: Record<string, string>;
}

export async function fakeWorld(initial: Partial<FakeState> = {}, options: WorldOptions = {}): Promise<FakeWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'mailkind-fake-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const state: FakeState = { ...structuredClone(DEFAULT_STATE), ...structuredClone(initial) };
  const calls: string[][] = [];
  const port = await serve(state, calls, realKubectl() ?? '/nonexistent/kubectl');
  for (const tool of options.fake ?? ['docker', 'kind', 'kubectl']) {
    writeFileSync(join(bin, tool), shim(tool, port));
    chmodSync(join(bin, tool), 0o755);
  }
  const ports: Record<string, number> = {};
  const env: Record<string, string> = {
    PATH: [bin, ...(options.path ?? []), dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
    HOME: dir,
    MAILKIND_STATE_DIR: join(dir, 'state'),
    CI: 'true',
    ...options.env,
  };
  // held open together while read, so all seven are distinct
  const free = await freePorts(PORT_KEYS.length + 1);
  PORT_KEYS.forEach((key, i) => {
    ports[key] = free[i]!;
    env[PORTS[key].env] = String(ports[key]);
  });
  const registryPort = free[PORT_KEYS.length]!;
  env.MAILKIND_REGISTRY_PORT = String(registryPort);
  return {
    dir,
    env,
    ports,
    registryPort,
    secretsPath: join(dir, 'state', 'secrets.json'),
    calls: () => calls.map((c) => [...c]),
    state: () => state,
    setState: (patch) => Object.assign(state, structuredClone(patch)),
  };
}

export interface EntryResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs scripts/<name>.ts as `npm run <name>` does (node --import tsx), in the world's environment. */
// a safety net against a hung entry point, not a speed gate: on a loaded 2-core machine a real
// `up` against the control plane has taken over 60 s
const ENTRY_TIMEOUT_MS = 180_000;

export async function runEntry(name: string, args: string[], env: Record<string, string>): Promise<EntryResult> {
  const started = performance.now();
  const r = await execa(...tsEntry(join(ROOT, 'scripts', `${name}.ts`), args), { env, extendEnv: false, reject: false, cwd: ROOT, timeout: ENTRY_TIMEOUT_MS });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), ms: performance.now() - started };
}

/** Calls that change something (what "a second up changes nothing" is about). */
export function mutatingCalls(calls: string[][]): string[][] {
  return calls.filter((c) => {
    const line = c.join(' ');
    if (c[0] === 'kind') return /^kind (create|delete|load)/.test(line);
    // `docker run --rm`: a throw-away check (npm run validate), nothing is left behind
    if (c[0] === 'docker') return (/^docker (pull|run|start|rm|network connect|image save|image load|image push)/.test(line) && !/^docker run --rm /.test(line)) || /cat > /.test(line);
    return false;
  });
}
