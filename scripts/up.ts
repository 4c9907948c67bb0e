// npm run up: reconcile a kind cluster (or --context cluster) running the whole stack.
import { Command, Option } from 'commander';
import { addCommonOptions, type CommonFlags, isCI, makeToolkit, readPins, runCommand } from './lib/cli/common.js';
import { UsageError } from './lib/cli/errors.js';
import { upSteps, type UpContext } from './lib/lifecycle/up-steps.js';
import { chooseRenderer, runSteps } from './lib/lifecycle/steps.js';
import { upSummary } from './lib/lifecycle/summary.js';
import { skipValidation } from './lib/lifecycle/validate.js';

interface UpFlags extends CommonFlags {
  images?: string;
  registry?: string;
  forTilt?: boolean;
  skipValidate?: boolean;
  timeout: string;
}

const cmd = addCommonOptions(new Command('up'), true)
  .description('Create or update the mailkind stack: kind cluster, registry, images, secrets, manifests; then wait until it is ready.')
  .addOption(new Option('--images <archive>', 'use an offline image bundle from `npm run bundle` (no pulls, no build)').env('MAILKIND_IMAGES'))
  .addOption(new Option('--registry <host/path>', 'with --context: where to push the sink image (e.g. registry.example.com/mailkind)').env('MAILKIND_REGISTRY'))
  // the Tiltfile's own switch: a flag only (commander would read any value of a boolean's env twin, "0" too, as true)
  .option('--for-tilt', 'only what the Tiltfile needs: cluster, registry, namespace and Secrets (flag only)', false)
  .addOption(new Option('--timeout <seconds>', 'how long each workload may take to become ready, and then the URLs to answer (each wait)').env('MAILKIND_TIMEOUT').default('300'))
  // its env twin MAILKIND_SKIP_VALIDATE is read by skipValidation ("1"/"true" only, see above)
  .option('--skip-validate', 'do not let the pinned KumoMTA image check the policy first (env MAILKIND_SKIP_VALIDATE=1); a warning is printed', false)
  .addHelpText(
    'after',
    `
Examples:
  npm run up                              the full stack on kind (cluster "mailkind")
  npm run up -- --profile minimal         no Mailman, one kumod (small laptops)
  npm run up -- --images mailkind.tar     offline, from \`npm run bundle\`
  npm run up -- --context my-ctx --registry registry.example.com/mailkind

Environment: every option but --for-tilt and --verbose has a twin: MAILKIND_CLUSTER, MAILKIND_CONTEXT,
MAILKIND_NAMESPACE, MAILKIND_PROFILE, MAILKIND_IMAGES, MAILKIND_REGISTRY, MAILKIND_TIMEOUT,
MAILKIND_SKIP_VALIDATE=1; the host ports MAILKIND_PORT_* and MAILKIND_REGISTRY_PORT; CI=true (plain
log lines instead of the live task list).
Exit codes: 0 ready, 1 failed (the cause and a fix are printed), 2 bad usage.`,
  );

await runCommand<UpFlags>(cmd, async (flags, settings) => {
  const timeout = Number(flags.timeout);
  if (!/^\d+$/.test(flags.timeout) || timeout < 10) throw new UsageError(`--timeout ${flags.timeout}: give whole seconds, at least 10`);
  if (settings.external && !flags.registry && !flags.forTilt) {
    throw new UsageError('--context needs --registry: the cluster cannot see images built on this machine', 'add --registry <host/path> you can push to and the cluster can pull from');
  }
  if (flags.images && settings.external) throw new UsageError('--images works with kind only (it loads images into the kind node)');
  const verbose = Boolean(flags.verbose);
  const toolkit = makeToolkit(settings, { verbose });
  const ctx: UpContext = {
    settings,
    options: { images: flags.images, registry: flags.registry, forTilt: Boolean(flags.forTilt), rolloutTimeoutSeconds: timeout, skipValidate: skipValidation(flags.skipValidate, process.env) },
    tools: toolkit,
    pins: readPins(settings),
    state: { warnings: [] },
  };
  if (ctx.options.skipValidate && !ctx.options.forTilt) {
    process.stderr.write(`warning: ${ctx.options.skipValidate}: the KumoMTA policy is applied without kumod checking it first (npm run validate does)\n`);
  }
  const renderer = chooseRenderer({ ci: isCI(), verbose, isTTY: Boolean(process.stdout.isTTY) });
  const reports = await runSteps(upSteps(ctx.options, settings), ctx, { renderer });
  if (ctx.options.forTilt) {
    console.log(`mailkind: ${settings.context} is ready for Tilt (namespace ${settings.namespace})`);
    return 0;
  }
  for (const line of upSummary(settings, reports, ctx.state.warnings)) console.log(line);
  return 0;
});
