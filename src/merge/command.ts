/**
 * `dnnkit merge OUT`: joins the shards of a `--shard K/N` run (core/merge.ts). Prints what it
 * merged on stdout and each missing item; exits 1 when any item is missing.
 */
import type { Command } from 'commander';
import { action, reportError, type CommonOptions } from '../core/command.js';
import { InputError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { mergeShards, type MergeResult } from '../core/merge.js';

/** Merges, prints, and sets exit code 1 when items are missing (the table and run.json are still written). */
export async function runMerge(opts: Pick<CommonOptions, 'json' | 'debug'>, dir: string): Promise<MergeResult> {
  // explain-eval's means over all digits are recomputed from the digits' records (lazy: the CLI starts fast).
  const { mergeExplainEval } = await import('../explain/eval.js');
  const r = await mergeShards(dir, { steps: { 'explain-eval': mergeExplainEval } });
  const log = createLogger(opts.json);
  log.output(`merged ${r.done} of ${r.items} items of ${r.command} (shards started: ${r.shards.started.join(', ') || 'none'}; finished: ${r.shards.finished.join(', ') || 'none'}) into ${r.table}`);
  for (const m of r.missing) log.output(`missing: ${m.key}${m.shard === null ? '' : ` (shard ${m.shard}/${r.shards.count})`}`);
  if (r.missing.length > 0) {
    const shards = [...new Set(r.missing.map((m) => m.shard).filter((s): s is number => s !== null))].sort((a, b) => a - b);
    const which = shards.length > 0 ? ` (shard${shards.length === 1 ? '' : 's'} ${shards.map((s) => `${s}/${r.shards.count}`).join(', ')})` : '';
    reportError(new InputError(`${r.missing.length} of ${r.items} items are missing${which}: rerun those shards with the same command (done items are skipped), then merge again`), false);
    process.exitCode = 1;
  }
  return r;
}

export function register(program: Command): void {
  program.command('merge')
    .description('join the shards of a --shard K/N run in OUT: one summary.csv (predictions.csv for classify, sst2 predict), run.json and report; lists missing items (exit 1)')
    .argument('<OUT>', 'the --out folder the shards wrote to')
    .option('--json', 'print the result as one JSON document on stdout', false)
    .option('--quiet', 'no log lines on stderr', false)
    .option('--debug', 'show stack traces on errors', false)
    .addHelpText('after', `
See docs/SHARDING.md for SLURM, Kubernetes and GNU parallel examples.

Examples:
  $ dnnkit merge outputs/photos
  $ dnnkit merge --json outputs/photos`)
    .action(action((o: CommonOptions, args: string[]) => runMerge(o, args[0])));
}
