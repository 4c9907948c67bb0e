import { defineConfig } from 'vitest/config';
import { E2E_JUNIT } from './test/e2e/lib/config.js';

// `npm run e2e`: the end-to-end tier against a running stack (not part of `npm test`). The global
// setup's preflight fails within 10 s when there is no stack. Scenarios run one file at a time
// by default: they are isolated by run id, but two of them restart kumod or load it on purpose;
// MAILKIND_E2E_PARALLEL=1 runs the files in parallel anyway. Per-step deadlines are in
// test/e2e/lib/config.ts (MAILKIND_E2E_TIMEOUT_*_MS); the test timeout is only a backstop.
const backstop = Number(process.env.MAILKIND_E2E_TEST_TIMEOUT_MS) || 900_000;

export default defineConfig({
  test: {
    name: 'e2e',
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    testTimeout: backstop,
    hookTimeout: 120_000,
    fileParallelism: process.env.MAILKIND_E2E_PARALLEL === '1',
    // a flaky pass would hide what the suite is for
    retry: 0,
    // the skip reporter repeats skipped and unproven scenarios with their reasons at the end
    reporters: ['default', 'junit', './test/helpers/skip-reporter.ts'],
    outputFile: { junit: E2E_JUNIT },
  },
});
