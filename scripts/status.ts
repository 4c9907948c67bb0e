// npm run status: each component's readiness, restarts, endpoint and recent warnings.
import { Command } from 'commander';
import { addCommonOptions, type CommonFlags, makeToolkit, runCommand } from './lib/cli/common.js';
import { UserError } from './lib/cli/errors.js';
import type { Settings } from './lib/config/settings.js';
import { lastLine } from './lib/tools/runner.js';
import { readSecrets } from './lib/secrets/file.js';
import { allReady, statusRows, statusTable, type EventJson, type PodJson, type WorkloadJson } from './lib/lifecycle/status-model.js';

interface StatusFlags extends CommonFlags {
  json?: boolean;
  showSecrets?: boolean;
}

const cmd = addCommonOptions(new Command('status'), true)
  .description('Show each component of the running stack: ready replicas, restarts, endpoint, recent warning events.')
  .option('--json', 'print JSON', false)
  .option('--show-secrets', 'also print the generated credentials (they are secrets: mind where the output goes)', false)
  .addHelpText('after', '\nExit codes: 0 everything ready, 1 something is not ready or the cluster does not answer, 2 bad usage.');

await runCommand<StatusFlags>(cmd, async (flags, settings) => {
  try {
    return await status(flags, settings);
  } catch (e) {
    // --json promises JSON on stdout, also when the cluster does not answer; cause and fix still go to stderr
    if (flags.json && e instanceof UserError) {
      console.log(JSON.stringify({ context: settings.context, namespace: settings.namespace, ready: false, components: [], error: { cause: e.message, fix: e.fix } }, null, 2));
    }
    throw e;
  }
});

async function status(flags: StatusFlags, settings: Settings): Promise<number> {
  const { kubectl } = makeToolkit(settings, { verbose: Boolean(flags.verbose) });
  const reach = await kubectl.reachable();
  if (reach.exitCode !== 0) {
    const why = reach.notFound ? 'kubectl is not installed' : lastLine(reach.stderr) || 'no answer';
    throw new UserError(`the cluster of context ${settings.context} does not answer (${why})`, 'start it with `npm run up` (or check `npm run doctor`)');
  }
  const [workloads, pods, events] = await Promise.all([
    kubectl.getJson<{ items: WorkloadJson[] }>('deployments,statefulsets'),
    kubectl.getJson<{ items: PodJson[] }>('pods'),
    kubectl.getJson<{ items: EventJson[] }>('events', ['--field-selector', 'type=Warning']),
  ]);
  const rows = statusRows(workloads.items, pods.items, events.items, settings);
  const secrets = flags.showSecrets ? await readSecrets(settings.paths.secrets) : undefined;
  if (flags.showSecrets && !secrets) throw new UserError(`no complete secrets file at ${settings.paths.secrets}`, 'run `npm run up`: it generates them');
  if (flags.json) {
    console.log(JSON.stringify({ context: settings.context, namespace: settings.namespace, ready: allReady(rows), components: rows, ...(secrets ? { secrets } : {}) }, null, 2));
  } else {
    if (rows.length === 0) console.log(`nothing deployed in namespace ${settings.namespace}: run \`npm run up\``);
    else for (const l of statusTable(rows)) console.log(l);
    if (secrets) {
      console.log('\ncredentials:');
      for (const [name, keys] of Object.entries(secrets)) for (const [k, v] of Object.entries(keys as Record<string, string>)) console.log(`  ${name}.${k} = ${v}`);
    } else {
      console.log('\ncredentials: npm run status -- --show-secrets');
    }
  }
  return allReady(rows) ? 0 : 1;
}
