// npm run doctor: is this machine ready for `npm run up`? A table with a fix per problem.
import { Command } from 'commander';
import { chalk } from 'zx';
import { allChecks, blockers, checkTable, type Level } from './lib/lifecycle/checks.js';
import { addCommonOptions, type CommonFlags, makeToolkit, readPins, runCommand } from './lib/cli/common.js';
import { existsSync } from 'node:fs';
import { downloads, installTool, pathHint } from './lib/tools/install.js';
import { Tar } from './lib/tools/tar.js';
import { probe } from './lib/lifecycle/probe.js';

interface DoctorFlags extends CommonFlags {
  installTools?: boolean;
  json?: boolean;
}

const cmd = addCommonOptions(new Command('doctor'), true)
  .description('Check Docker, kind, kubectl, tilt, the host ports, inotify limits and disk for `npm run up`.')
  .option('--install-tools', 'download the pinned kind, kubectl and tilt releases into .mailkind/bin (checksums verified)', false)
  .option('--json', 'print the checks as JSON', false)
  .addHelpText('after', '\nExit codes: 0 ready (warnings allowed), 1 a blocker was found, 2 bad usage.');

const COLOR: Record<Level, (s: string) => string> = { ok: chalk.green, warn: chalk.yellow, fail: chalk.red, info: chalk.dim };

await runCommand<DoctorFlags>(cmd, async (flags, settings) => {
  const pins = readPins(settings);
  const toolkit = makeToolkit(settings, { verbose: Boolean(flags.verbose) });
  if (flags.installTools) {
    for (const d of downloads(pins.tools, process.platform, process.arch, process.env)) {
      const path = await installTool(d, settings.paths.bin, fetch, new Tar(toolkit.runner));
      console.log(`installed ${d.tool} ${d.version} -> ${path} (sha256 verified)`);
    }
  }
  const checks = allChecks(await probe(settings, toolkit), pins.tools, settings);
  const blocking = blockers(checks);
  if (flags.json) {
    console.log(JSON.stringify({ ready: blocking.length === 0, checks }, null, 2));
  } else {
    for (const row of checkTable(checks)) console.log(row.level ? COLOR[row.level](row.text) : row.text);
    const hint = pathHint(settings.paths.bin, process.env.PATH ?? '', existsSync);
    if (hint) console.log(`\n${hint}`);
    console.log(blocking.length === 0 ? '\nready for `npm run up`' : `\n${blocking.length} blocker(s): fix them, then run \`npm run doctor\` again`);
  }
  return blocking.length === 0 ? 0 : 1;
});
