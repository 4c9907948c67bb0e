import { defineConfig } from 'vitest/config';

// `npm run test:kind`: the kind tier (test/kind), a real kind cluster on a Docker engine of its own.
// Not part of `npm test` (minutes, gigabytes); .ci/run calls it after `npm test`.
export default defineConfig({
  test: {
    passWithNoTests: false,
    // one file, one cluster: nothing runs in parallel
    fileParallelism: false,
    reporters: ['default', ...(process.env.CI ? ['junit', 'json'] : []), './test/helpers/skip-reporter.ts'],
    outputFile: { junit: 'reports/junit-kind.xml', json: 'reports/vitest-kind.json' },
    projects: [
      {
        test: {
          name: 'kind',
          include: ['test/kind/**/*.test.ts'],
          testTimeout: 20 * 60_000,
          hookTimeout: 45 * 60_000,
        },
      },
    ],
  },
});
