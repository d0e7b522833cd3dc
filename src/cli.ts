/**
 * The dnnkit command line: commander with one command group per module. Each module's
 * `register` adds its commands; each command calls that module's exported `run(options)`.
 */
import { CommanderError, type Command } from 'commander';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { applyVocabulary, DnnkitCommand } from './core/command.js';
import { errColors } from './core/log.js';
import { afterRunRecord, dnnkitVersion } from './core/run_record.js';
import { writeReport } from './report/index.js';
import { register as registerInfo } from './info/command.js';
import { register as registerMnist } from './mnist/command.js';
import { register as registerModels } from './models/command.js';
import { register as registerExplain } from './explain/command.js';
import { register as registerSst2 } from './sst2/command.js';
import { register as registerProject } from './project/command.js';
import { register as registerTextExplain } from './text_explain/command.js';
import { register as registerReport } from './report/command.js';
import { register as registerMerge } from './merge/command.js';
import { isShardRecordName } from './core/shard.js';

/** The whole command tree (no parsing): the CLI runs it, tests walk it (test/cli/help_contract). */
export function buildProgram(): Command {
  const program = new DnnkitCommand('dnnkit')
    .description('Train and explain deep networks from the command line (TensorFlow.js).')
    .version(dnnkitVersion())
    .configureOutput({
      // Usage errors: one line, prefixed like every other dnnkit error.
      outputError: (str, write) => write(errColors().red(`dnnkit: ${str.trim().replace(/\s*\n\s*/g, ' ')} (see --help)`) + '\n'),
    })
    .showSuggestionAfterError(true)
    .exitOverride();
  registerInfo(program);
  registerMnist(program);
  registerModels(program);
  registerExplain(program);
  registerSst2(program);
  registerProject(program);
  registerTextExplain(program);
  registerReport(program);
  registerMerge(program);
  applyVocabulary(program); // one name per concept in every command's --help
  return program;
}

/**
 * A closed stdout (`dnnkit help gradcam | head -2`) ends the process at once and quietly, with
 * the exit status of a process killed by SIGPIPE (128 + 13), as git does; a closed stderr is ignored.
 */
function endQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') process.exit(141);
    throw err;
  });
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}

/** Parses `argv` and runs the command; sets process.exitCode (2 usage, 1 runtime). */
export async function main(argv: string[] = process.argv): Promise<void> {
  endQuietlyOnClosedPipe();
  // Every run folder gets report.html beside its run.json (DNNKIT_REPORT=0 turns it off); a
  // shard's record gets none: the shards share the folder, and `dnnkit merge` writes its report.
  if (process.env.DNNKIT_REPORT !== '0') afterRunRecord(async (dir, name) => { if (!isShardRecordName(name)) await writeReport(dir); });
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every other commander error is a usage error.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
    } else {
      throw err;
    }
  }
}

/** Whether this process was started as the CLI (bin/dnnkit.js, or dist/src/cli.js itself). */
function startedAsCli(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  let real: string;
  try {
    real = realpathSync(entry);
  } catch {
    return false;
  }
  const here = fileURLToPath(import.meta.url);
  return real === here || real === fileURLToPath(new URL('../../bin/dnnkit.js', import.meta.url));
}

if (startedAsCli()) await main();
