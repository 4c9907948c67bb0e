// npm run down: delete the kind cluster (or, with --context, the namespace and its PVCs).
import { rm } from 'node:fs/promises';
import { Command } from 'commander';
import { addCommonOptions, type CommonFlags, makeToolkit, runCommand } from './lib/cli/common.js';
import { UserError } from './lib/cli/errors.js';

interface DownFlags extends CommonFlags {
  purge?: boolean;
}

const cmd = addCommonOptions(new Command('down'))
  .description('Delete the stack: the kind cluster, or with --context the namespace (PVCs included). Safe to run twice.')
  .option('--purge', 'also remove the local registry container and the generated secrets file', false)
  .addHelpText('after', '\nExit codes: 0 gone (or was not there), 1 failed, 2 bad usage.');

await runCommand<DownFlags>(cmd, async (flags, settings) => {
  const { docker, kind, kubectl } = makeToolkit(settings, { verbose: Boolean(flags.verbose) });
  if (settings.external) {
    const lines = await kubectl.deleteNamespace(true);
    console.log(lines.length ? `deleted namespace ${settings.namespace} in ${settings.context} (its PVCs with it)` : `namespace ${settings.namespace} was not there`);
  } else {
    const info = await docker.info();
    if (!info.reachable) throw new UserError(`Docker is not reachable (${info.error ?? 'no answer'}): the cluster's containers cannot be deleted`, 'start Docker, then run `npm run down` again');
    if ((await kind.version()) === undefined) throw new UserError('kind is not installed', 'run `npm run doctor -- --install-tools`');
    const existed = (await kind.clusters()).includes(settings.cluster);
    await kind.delete(settings.cluster);
    console.log(existed ? `deleted kind cluster ${settings.cluster}` : `kind cluster ${settings.cluster} was not there`);
  }
  if (flags.purge) {
    if (!settings.external) {
      const removed = await docker.removeContainer(settings.registry.name);
      console.log(removed ? `removed registry container ${settings.registry.name}` : `registry container ${settings.registry.name} was not there`);
    }
    await rm(settings.paths.secrets, { force: true });
    console.log(`removed ${settings.paths.secrets} (new credentials on the next up)`);
  }
  return 0;
});
