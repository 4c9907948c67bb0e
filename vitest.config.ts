import { defineConfig } from 'vitest/config';

// `npm test` runs the tiers that need no external cluster (the cluster tier starts its own). The e2e tier has its own config (issue: e2e suite).
export default defineConfig({
  test: {
    passWithNoTests: true,
    // bundles scripts/*.ts once for the entry-point runs (test/helpers/entry-point.ts)
    globalSetup: ['./test/helpers/entry-bundles.ts'],
    // vitest's default is one worker per CPU minus one: a single worker on a 2-core machine. Most
    // component files wait on real processes (Mailman, the sink, tsx entry points), so a few more
    // files at once fill the idle time.
    maxWorkers: 3,
    // CI also gets a JUnit report and a JSON summary (.ci/run prints its totals)
    reporters: [
      'default',
      ...(process.env.CI ? ['junit', 'json'] : []),
      // repeats missing prerequisites (test/helpers/prerequisites.ts) after the summary
      './test/helpers/skip-reporter.ts',
    ],
    outputFile: { junit: 'reports/junit-npm-test.xml', json: 'reports/vitest.json' },
    projects: [
      // pure tests: one module graph for all files in worker threads, a third of the CPU of a fresh
      // process per file (measured: 7 s against 18 s for the unit tier)
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], pool: 'threads', isolate: false } },
      {
        test: {
          name: 'component',
          include: ['test/component/**/*.test.ts'],
          // a worker process runs several files without re-importing the world for each: about 50
          // CPU-seconds less on this tier (measured 120 against 169). The files keep no state in
          // modules or process.env; each makes its own servers, folders and fake worlds.
          isolate: false,
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      { test: { name: 'manifests', include: ['test/manifests/**/*.test.ts'], pool: 'threads', isolate: false } },
      {
        // a real API server (etcd, kube-apiserver, controller-manager, scheduler, kwok) started once
        // per file by test/helpers/control-plane.ts (two files, side by side); the real kubectl,
        // docker and kind faked
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          // deadlines for hung processes, not speed gates (a test makes up to three `up` runs)
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'docker',
          // a real dockerd per file (test/helpers/docker-engine.ts), one file per image store
          include: ['test/docker/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
