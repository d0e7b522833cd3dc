/**
 * `dnnkit sst2 repeat --seeds 1,2,3 [sst2 options]`: the same training run once per seed, to
 * report accuracy as mean and spread rather than one lucky number. Each run writes its own
 * outputs to <out>/seed-<n>/; seeds.csv and repeat.json hold the per-seed and summary numbers.
 */
import * as path from 'node:path';
import { writeCsv } from '../core/csv.js';
import { UsageError } from '../core/errors.js';
import { prepareOutDir } from '../core/fsutil.js';
import { refuseOrDiscardCheckpoint } from '../core/checkpoint.js';
import { invalidateRunRecord, RUN_JSON, writeRunRecord } from '../core/run_record.js';
import { createLogger } from '../core/log.js';
import { validateOptions, type Sst2RunOptions, type Sst2Summary } from './options.js';
import { runSst2 } from './train.js';

const REPEAT_JSON = 'repeat.json';
const SEEDS_CSV = 'seeds.csv';

export interface SpreadStats {
  mean: number;
  /** Sample standard deviation (n - 1); 0 for a single run. */
  std: number;
  min: number;
  max: number;
}

export function spread(values: number[]): SpreadStats {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: Math.min(...values), max: Math.max(...values) };
}

/** Parses "1,2,3" into distinct non-negative integer seeds. */
export function parseSeeds(text: string): number[] {
  const seeds = text.split(',').map((s) => s.trim());
  if (seeds.some((s) => !/^\d+$/.test(s))) throw new UsageError(`--seeds must be a comma-separated list of whole numbers, got '${text}'`);
  const nums = seeds.map(Number);
  if (new Set(nums).size !== nums.length) throw new UsageError(`--seeds has duplicates: '${text}'`);
  return nums;
}

export interface RepeatSummary {
  seeds: number[];
  devAccuracy: SpreadStats;
  /** null when the test split has no labels. */
  testAccuracy: SpreadStats | null;
  /** True when Ctrl-C stopped the repeat during a seed (the summary covers the finished seeds). */
  interrupted?: boolean;
  runs: Pick<Sst2Summary, 'seed' | 'devAccuracy' | 'testAccuracy' | 'bestEpoch' | 'epochs' | 'seconds' | 'trainSentencesPerSecond' | 'backend'>[];
  outDir: string;
}

export async function runSst2Repeat(opts: Sst2RunOptions, seedsText: string): Promise<RepeatSummary> {
  const seeds = parseSeeds(seedsText);
  if (opts.resume !== undefined) {
    throw new UsageError(`sst2 repeat does not take --resume; continue an interrupted seed with dnnkit sst2 --resume ${opts.resume}, or run repeat again with --restart`);
  }
  validateOptions(opts);
  const log = createLogger(opts.json);
  const outDir = await prepareOutDir(opts.out);
  // Before any seed trains: a seed folder holding an interrupted run's checkpoint is refused
  // (unless --restart), and the previous repeat's summaries go (repeat.json is written last).
  const seedDir = (seed: number) => path.join(outDir, `seed-${seed}`);
  if (!opts.restart) {
    for (const seed of seeds) await refuseOrDiscardCheckpoint(seedDir(seed), { outArg: path.join(opts.out, `seed-${seed}`), command: 'dnnkit sst2' });
  }
  await invalidateRunRecord(outDir, [REPEAT_JSON, SEEDS_CSV]);
  const runs: RepeatSummary['runs'] = [];
  for (const seed of seeds) {
    log.info(`--- seed ${seed} (${runs.length + 1}/${seeds.length}) ---`);
    const s = await runSst2({ ...opts, seed, out: seedDir(seed), givenOptions: undefined });
    if (s.interrupted) {
      // The finished seeds are in seeds.csv; the interrupted one resumes with dnnkit sst2 --resume.
      log.warn(`stopped during seed ${seed}: finished seeds in ${path.join(outDir, 'seeds.csv')}; continue this one with dnnkit sst2 --resume ${s.outDir}`);
      return { seeds, devAccuracy: spread(runs.map((r) => r.devAccuracy)), testAccuracy: null, runs, outDir, interrupted: true };
    }
    runs.push({ seed, devAccuracy: s.devAccuracy, testAccuracy: s.testAccuracy, bestEpoch: s.bestEpoch, epochs: s.epochs, seconds: s.seconds, trainSentencesPerSecond: s.trainSentencesPerSecond, backend: s.backend });
    await writeCsv(path.join(outDir, SEEDS_CSV), ['seed', 'dev_accuracy', 'test_accuracy', 'best_epoch', 'epochs', 'seconds', 'train_sentences_per_second'],
      runs.map((r) => [r.seed, r.devAccuracy, r.testAccuracy ?? '', r.bestEpoch, r.epochs, r.seconds, r.trainSentencesPerSecond]));
  }
  const tests = runs.map((r) => r.testAccuracy).filter((v): v is number => v !== null);
  const summary: RepeatSummary = {
    seeds,
    devAccuracy: spread(runs.map((r) => r.devAccuracy)),
    testAccuracy: tests.length === runs.length ? spread(tests) : null,
    runs,
    outDir,
  };
  // Last, with the SHA-256 of seeds.csv and of each seed's run.json (which describes that seed's files).
  await writeRunRecord(outDir, summary, [SEEDS_CSV, ...seeds.map((seed) => path.join(`seed-${seed}`, RUN_JSON))], REPEAT_JSON);
  const pct = (s: SpreadStats) => `${(100 * s.mean).toFixed(2)}% +- ${(100 * s.std).toFixed(2)} (min ${(100 * s.min).toFixed(2)}, max ${(100 * s.max).toFixed(2)})`;
  log.result(`${seeds.length} seeds: dev accuracy ${pct(summary.devAccuracy)}${summary.testAccuracy ? `; test accuracy ${pct(summary.testAccuracy)}` : ''} -> ${outDir}`);
  return summary;
}

/** The former name of runSst2Repeat. */
export const runRepeat = runSst2Repeat;
