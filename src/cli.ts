/**
 * The dnnkit command line: commander with one command group per module. Each module's
 * `register` adds its commands; each command calls that module's exported `run(options)`.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import chalk from 'chalk';
import { register as registerInfo } from './info/command.js';
import { register as registerMnist } from './mnist/command.js';
import { register as registerModels } from './models/command.js';
import { register as registerExplain } from './explain/command.js';
import { register as registerSst2 } from './sst2/command.js';
import { register as registerProject } from './project/command.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('dnnkit')
  .description('Train and explain deep networks from the command line (TensorFlow.js).')
  .version(pkg.version)
  .configureOutput({
    // Usage errors: one line, prefixed like every other dnnkit error.
    outputError: (str, write) => write(chalk.red(`dnnkit: ${str.trim()} (see --help)`) + '\n'),
  })
  .exitOverride();

registerInfo(program);
registerMnist(program);
registerModels(program);
registerExplain(program);
registerSst2(program);
registerProject(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; every other commander error is a usage error.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    throw err;
  }
}
