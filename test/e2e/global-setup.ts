// Runs once before any scenario (vitest globalSetup): resolve the configuration, run the
// preflight, hand the runtime config to the scenario files (provide/inject: the credentials are
// never printed or written). The preflight is a gate, not a test: when it fails, the run ends
// here with the message alone (no stack trace, no misleading "no test files"), exit code 1, and a
// JUnit report holding that one failure, so CI shows why nothing ran.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { describeConfig, E2eConfigError, E2E_JUNIT, resolveE2eConfig } from './lib/config.js';
import { preflight, PreflightError } from './lib/preflight.js';

const xml = (s: string): string => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string);

/** A JUnit file with the preflight as its only, failed, test case. */
export function preflightJunit(message: string, seconds: number): string {
  const first = message.split('\n').slice(0, 2).join(' ');
  return `<?xml version="1.0" encoding="UTF-8" ?>
<testsuites name="mailkind e2e" tests="1" failures="1" errors="0" time="${seconds}">
  <testsuite name="preflight" tests="1" failures="1" errors="0" skipped="0" time="${seconds}">
    <testcase classname="preflight" name="the stack is reachable and every component is Ready" time="${seconds}">
      <failure message="${xml(first)}" type="PreflightError">${xml(message)}</failure>
    </testcase>
  </testsuite>
</testsuites>
`;
}

export default async function setup(project: TestProject): Promise<void> {
  const started = Date.now();
  try {
    const config = resolveE2eConfig(process.env);
    console.log(`mailkind e2e against:\n${describeConfig(config)}`);
    const runtime = await preflight(config, { log: (l) => console.log(l) });
    project.provide('mailkindE2e', runtime);
  } catch (e) {
    if (!(e instanceof PreflightError || e instanceof E2eConfigError)) throw e;
    const file = resolve(project.config.root, E2E_JUNIT);
    try {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, preflightJunit(e.message, (Date.now() - started) / 1000));
    } catch {
      // the message below is what matters
    }
    process.stderr.write(`\n${e.message}\n`);
    process.exit(1);
  }
}
