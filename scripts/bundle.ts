// npm run bundle: every pinned image plus the sink image for one platform in one archive, so a
// workshop can run `npm run up -- --images <file>` with no network.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { addCommonOptions, type CommonFlags, isCI, makeToolkit, readPins, runCommand } from './lib/cli/common.js';
import { imageTransfer, platformOf } from './lib/tools/docker.js';
import { UserError } from './lib/cli/errors.js';
import { buildSinkImage, pullImages } from './lib/lifecycle/image-actions.js';
import { bundleSaveRefs, digestAlias, foreignImages } from './lib/lifecycle/images.js';
import { chooseRenderer, runSteps, timingTable, type Step } from './lib/lifecycle/steps.js';

interface BundleFlags extends CommonFlags {
  platform?: string;
  output?: string;
}

const cmd = addCommonOptions(new Command('bundle'))
  .description('Save every pinned image (kind node, registry, workloads) and the sink image for one platform into one archive.')
  .addOption(new Option('--platform <platform>', 'target platform (default: this Docker host\'s)').choices(['linux/amd64', 'linux/arm64']))
  .option('--output <file>', 'archive path (default .mailkind/bundles/mailkind-<arch>.tar)')
  .addHelpText('after', '\nThen, with no network: npm run up -- --images <file>\nExit codes: 0 written, 1 failed, 2 bad usage.');

function sha256(path: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path).on('error', rej).on('data', (c) => h.update(c)).on('end', () => res(h.digest('hex')));
  });
}

interface Ctx {
  platform: string;
  output: string;
  refs: string[];
  savePlatform: boolean;
}

await runCommand<BundleFlags>(cmd, async (flags, settings) => {
  const verbose = Boolean(flags.verbose);
  const { docker } = makeToolkit(settings, { verbose });
  const pins = readPins(settings);
  const info = await docker.info();
  if (!info.reachable) throw new UserError(`Docker daemon: ${info.error ?? 'not reachable'}`, 'start Docker and run `npm run bundle` again');
  const transfer = imageTransfer(info);
  if (!transfer.ok) throw new UserError(transfer.reason, transfer.fix);
  const platform = flags.platform ?? platformOf(info.architecture);
  const output = resolve(flags.output ?? join(settings.paths.state, 'bundles', `mailkind-${platform.split('/')[1]}.tar`));
  const ctx: Ctx = { platform, output, refs: [pins.images.node, pins.tools.registry.image, ...pins.images.pulled], savePlatform: transfer.savePlatform };
  const steps: Step<Ctx>[] = [
    {
      name: 'pull',
      title: `Pull ${ctx.refs.length} pinned images for ${platform}`,
      async run(c) {
        await pullImages(docker, c.refs, c.platform);
        return `${c.refs.length} pulled`;
      },
    },
    {
      name: 'sink-image',
      title: `Build ${pins.images.sink} for ${platform}`,
      async run(c) {
        await buildSinkImage(docker, settings.paths.root, pins.images.sink, c.platform);
        c.refs.push(pins.images.sink);
        return 'built';
      },
    },
    {
      name: 'save',
      title: 'Save the archive',
      async run(c) {
        if (!c.savePlatform && c.platform !== platformOf(info.architecture)) {
          throw new UserError(`Docker ${info.serverVersion} (CLI ${info.clientVersion || 'unknown'}) cannot save images of another platform`, 'use Docker 28 or newer (engine and CLI), or make the bundle on a machine of that platform');
        }
        if (!c.savePlatform) {
          // the classic store holds one platform per name: it must be the bundle's
          const platforms = new Map<string, string | undefined>();
          for (const ref of c.refs) platforms.set(ref, await docker.imagePlatform(ref));
          const foreign = foreignImages(platforms, c.platform);
          if (foreign.length > 0) throw new UserError(`not ${c.platform}: ${foreign.join(', ')}`, `run \`docker pull --platform ${c.platform}\` on them, or bundle on a ${c.platform} machine`);
        }
        // a digest reference loses its name in the archive: save it under its alias tag
        for (const ref of c.refs) {
          const alias = digestAlias(ref);
          if (alias) await docker.tag(ref, alias);
        }
        await mkdir(dirname(c.output), { recursive: true });
        await docker.save(bundleSaveRefs(c.refs), c.output, c.savePlatform ? c.platform : undefined);
        const size = (await stat(c.output)).size;
        return `${c.output} (${(size / 1024 ** 3).toFixed(2)} GiB, sha256 ${await sha256(c.output)})`;
      },
    },
  ];
  const reports = await runSteps(steps, ctx, { renderer: chooseRenderer({ ci: isCI(), verbose, isTTY: Boolean(process.stdout.isTTY) }) });
  console.log(`\nbundle: ${output}\nuse it offline: npm run up -- --images ${output}\n`);
  for (const l of timingTable(reports)) console.log(`  ${l}`);
  return 0;
});
