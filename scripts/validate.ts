// npm run validate: the pinned KumoMTA image judges the project's policy (kumod --validate on
// init.lua with the env the pod gets, validate-shaping on shaping.toml); --images checks that every
// pinned image exists for amd64 and arm64 and prints the user each workload image runs as.
import { Command } from 'commander';
import { addCommonOptions, type CommonFlags, makeToolkit, readPins, runCommand } from './lib/cli/common.js';
import { platformOf } from './lib/tools/docker.js';
import { checkImages, dockerMissing, imageLines, kumomtaImage, runValidation, validatePlan, validationFailed } from './lib/lifecycle/validate.js';

interface ValidateFlags extends CommonFlags {
  images?: boolean;
}

const cmd = addCommonOptions(new Command('validate'))
  .description("Run the pinned KumoMTA image's own checks on manifests/base/policy/kumomta (needs Docker, no cluster).")
  .option('--images', 'instead: check every pinned image exists for linux/amd64 and linux/arm64, and print the user each workload image runs as (pulls them)', false)
  .addHelpText(
    'after',
    `
What runs (each in a throw-away container, no network):
  kumod --validate      init.lua with the pod's env (Secrets replaced by placeholders), as the pod's uid
  validate-shaping      shaping.toml
tsa_init.lua has no check in the image (tsa-daemon has no validation mode); the policy harness covers it.
Exit codes: 0 valid, 1 refused (kumod's own text is printed) or Docker unavailable, 2 bad usage.`,
  );

await runCommand<ValidateFlags>(cmd, async (flags, settings) => {
  const toolkit = makeToolkit(settings, { verbose: Boolean(flags.verbose) });
  const info = await toolkit.docker.info();
  if (!info.reachable) throw dockerMissing(info.error ?? 'docker info failed');
  const pins = readPins(settings);
  if (flags.images) {
    const pinned = [...pins.images.pulled, pins.images.node, pins.tools.registry.image];
    const reports = await checkImages(toolkit.docker, { pinned, workloads: pins.images.pulled, platform: platformOf(info.architecture) });
    const { lines, ok } = imageLines(reports);
    for (const l of lines) console.log(l);
    console.log(ok ? `\n${reports.length} pinned images exist for linux/amd64 and linux/arm64` : '\nsome pinned images are missing a platform: change the pin before anyone runs `npm run up`');
    return ok ? 0 : 1;
  }
  const plan = validatePlan({ root: settings.paths.root, policyDir: `${settings.paths.root}/manifests/base/policy/kumomta`, image: kumomtaImage(pins.images.pulled), namespace: settings.namespace });
  const outcomes = await runValidation(toolkit.docker, plan);
  for (const o of outcomes) {
    console.log(`${o.ok ? 'ok  ' : 'FAIL'} ${o.name} (${plan.image})`);
    if (o.ok && o.output) for (const l of o.output.split('\n')) console.log(`     ${l}`);
  }
  for (const n of plan.notes) console.log(`note ${n}`);
  const failure = validationFailed(outcomes);
  if (failure) throw failure;
  return 0;
});
