// npm run bench: the sink benchmark, then the load generator's, each as its own process with the
// same options (--rounds, --quick, --no-fail, --json); `--only sink` or `--only load` runs one.
// With --json the two reports are printed as one object { sink, load }. Exit: the worse of the two.
import { resolve } from 'node:path';
import { execa } from 'execa';
import { benchHelp } from './lib/options.js';

const ROOT = resolve(import.meta.dirname, '..');
const BENCHES = { sink: 'bench/sink.bench.ts', load: 'bench/load.bench.ts' } as const;
type Name = keyof typeof BENCHES;

function split(argv: string[]): { only: Name[]; rest: string[]; json: boolean } | string {
  const rest: string[] = [];
  let only: Name[] = ['sink', 'load'];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const value = a === '--only' ? argv[++i] : a.startsWith('--only=') ? a.slice(7) : undefined;
    if (a === '--only' || a.startsWith('--only=')) {
      if (value !== 'sink' && value !== 'load') return `--only takes sink or load, not "${value ?? ''}"`;
      only = [value];
    } else rest.push(a);
  }
  return { only, rest, json: rest.includes('--json') };
}

async function main(argv: string[]): Promise<number> {
  const parsed = split(argv);
  if (typeof parsed === 'string') {
    process.stderr.write(`bench: ${parsed}\n`);
    return 2;
  }
  if (parsed.rest.includes('--help') || parsed.rest.includes('-h')) {
    process.stdout.write(benchHelp(await Promise.all(parsed.only.map(async (name) => ({ name, file: BENCHES[name], text: String((await execa(process.execPath, ['--import', 'tsx', BENCHES[name], '--help'], { cwd: ROOT, reject: false })).stdout) })))));
    return 0;
  }
  let worst = 0;
  const reports: Partial<Record<Name, unknown>> = {};
  for (const name of parsed.only) {
    if (!parsed.json) process.stderr.write(`\n== npm run bench: ${name} (${BENCHES[name]})\n`);
    const r = await execa(process.execPath, ['--import', 'tsx', BENCHES[name], ...parsed.rest], {
      cwd: ROOT,
      reject: false,
      stdin: 'inherit',
      stderr: 'inherit',
      stdout: parsed.json ? 'pipe' : 'inherit',
    });
    if (parsed.json) {
      try {
        reports[name] = JSON.parse(String(r.stdout)) as unknown;
      } catch {
        reports[name] = { error: `no JSON report (exit ${r.exitCode ?? r.signal ?? '?'})` };
      }
    }
    worst = Math.max(worst, r.exitCode ?? 1);
  }
  if (parsed.json) process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
  return worst;
}

process.exit(await main(process.argv.slice(2)));
