// A fake kubectl for tests of the e2e suite's cluster code: a real executable (so execa, exit
// codes and timeouts are the real thing) that records its arguments and answers from a script of
// rules: the first rule whose words all appear in the arguments decides stdout, stderr and exit.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeRule {
  /** words that must all be among the arguments, e.g. ['get', 'deployments,statefulsets'] */
  when: string[];
  stdout?: string;
  stderr?: string;
  exit?: number;
}

export interface FakeKubectl {
  /** path of the executable */
  path: string;
  /** every call's arguments, in order */
  calls(): string[][];
  setRules(rules: FakeRule[]): void;
  remove(): void;
}

const SCRIPT = `#!/usr/bin/env node
const fs = require('node:fs');
const path = require('node:path');
const dir = path.dirname(process.argv[1]);
const args = process.argv.slice(2);
fs.appendFileSync(path.join(dir, 'calls.jsonl'), JSON.stringify(args) + '\\n');
const rules = JSON.parse(fs.readFileSync(path.join(dir, 'rules.json'), 'utf8'));
const rule = rules.find((r) => r.when.every((w) => args.includes(w)));
if (!rule) { process.stderr.write('fake kubectl: no rule for ' + args.join(' ') + '\\n'); process.exit(97); }
if (rule.stdout) process.stdout.write(rule.stdout);
if (rule.stderr) process.stderr.write(rule.stderr);
process.exitCode = rule.exit ?? 0;
`;

export function fakeKubectl(rules: FakeRule[] = []): FakeKubectl {
  const dir = mkdtempSync(join(tmpdir(), 'mailkind-fake-kubectl-'));
  // .cjs: the repository's package.json says "type": "module", this one is CommonJS
  const path = join(dir, 'kubectl.cjs');
  writeFileSync(path, SCRIPT);
  chmodSync(path, 0o755);
  writeFileSync(join(dir, 'calls.jsonl'), '');
  const setRules = (r: FakeRule[]): void => writeFileSync(join(dir, 'rules.json'), JSON.stringify(r));
  setRules(rules);
  return {
    path,
    calls: () =>
      readFileSync(join(dir, 'calls.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[]),
    setRules,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `kubectl get deployments,statefulsets -o json` output for the given workloads. */
export function workloadList(items: { kind: 'Deployment' | 'StatefulSet'; name: string; replicas: number; ready: number }[]): string {
  return JSON.stringify({
    items: items.map((w) => ({ kind: w.kind, metadata: { name: w.name }, spec: { replicas: w.replicas }, status: { readyReplicas: w.ready } })),
  });
}
