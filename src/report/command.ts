/**
 * `dnnkit report DIR...`: (re)builds report.html from a run folder's files, or puts several runs
 * side by side in one page (three seeds of sst2, two models' explain-eval). Thin: parse, then
 * call runReport.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { addCommonOptions, action, intArg, type CommonOptions } from '../core/command.js';
import { UsageError } from '../core/errors.js';
import { prepareOutDir } from '../core/fsutil.js';
import { createLogger } from '../core/log.js';
import { POINT_CAP, REPORT_HTML, writeCombinedReport } from './index.js';

export interface ReportCommandOptions extends CommonOptions {
  /** Most points drawn per projection (evenly sampled above it). */
  pointCap: number;
  /** Page title (default: from the runs' commands and folders). */
  title?: string;
  /** Whether --out was given (set by the command; without it one run's report goes into its own folder). */
  outGiven?: boolean;
}

export interface ReportSummary {
  report: string;
  bytes: number;
  runs: string[];
}

/** Writes the report on `dirs` and returns where it went. */
export async function runReport(opts: ReportCommandOptions, dirs: string[]): Promise<ReportSummary> {
  const log = createLogger(opts.quiet);
  if (dirs.length === 0) throw new UsageError('give one or more run folders (the --out of dnnkit commands)');
  for (const d of dirs) {
    const st = await fsp.stat(d).catch(() => undefined);
    if (!st?.isDirectory()) throw new UsageError(`${d} is not a folder; give the --out folder of a dnnkit run`);
  }
  // one run and no --out: the report goes beside the run's files, as the commands write it
  const outDir = await prepareOutDir(dirs.length === 1 && !opts.outGiven ? dirs[0] : opts.out);
  const file = await writeCombinedReport(dirs, path.join(outDir, REPORT_HTML), { pointCap: opts.pointCap, title: opts.title });
  const bytes = (await fsp.stat(file)).size;
  log.result(`report on ${dirs.length} run${dirs.length === 1 ? '' : 's'} (${(bytes / 1e6).toFixed(1)} MB) -> ${file}`);
  return { report: file, bytes, runs: dirs.map((d) => path.resolve(d)) };
}

export function register(program: Command): void {
  const cmd = addCommonOptions(
    program.command('report')
      .description('(re)build report.html, one self-contained interactive page, from run folders; several folders go side by side')
      .argument('<dir...>', 'run folders (the --out of train-mnist, sst2, explain-eval, project, ...)'),
    'report',
  )
    .option('--point-cap <n>', 'most points drawn per projection; larger ones are sampled evenly', intArg('--point-cap', 10, 100_000), POINT_CAP)
    .option('--title <text>', 'page title (default: the command and folder names)')
    .addHelpText('after', `
With one folder and no --out, report.html is written into that folder; otherwise into --out.
The page opens from disk with no network access: vega, vega-lite and vega-embed are inlined.

Examples:
  $ dnnkit report outputs/train-mnist
  $ dnnkit report runs/seed1 runs/seed2 runs/seed3 --out runs/compare
  $ dnnkit report evals/cnn-a evals/cnn-b --out evals/side-by-side`);
  cmd.hook('preAction', (c) => {
    c.setOptionValue('outGiven', c.getOptionValueSource('out') !== 'default');
  });
  cmd.action(action((opts: ReportCommandOptions, args: string[]) => runReport(opts, args.flat())));
}
