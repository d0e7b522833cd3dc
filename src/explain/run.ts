/**
 * The explain commands' runs (`gradcam`, `shap`, `explain`): validate every input first (model,
 * layer, class, grid, images), then create --out and write each image's files and summary.csv
 * (one row per image x class x method). IMG arguments may be folders (core/image_inputs.ts);
 * `--shard K/N` runs one shard of the images and skips those already done (core/shard.ts).
 * Testable directly: `await runExplainers(['gradcam'], opts, files, 'separate')`.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendInfo } from '../core/backend.js';
import { InputError, UsageError } from '../core/errors.js';
import { prepareOutDir, writeFileAtomic } from '../core/fsutil.js';
import { buildRunRecord, writeRunRecord } from '../core/run_record.js';
import { collectImages, type ImageItem } from '../core/image_inputs.js';
import { KeptImages } from '../core/kept_images.js';
import {
  beginShardRun, doneItems, emptyShardWarning, entriesIn, fingerprint, itemRecordPath, parseShard, shardItems, shardLockName, writeItemRecord, writeTable,
  type ItemRecord, type Shard, type TableRow,
} from '../core/shard.js';
import { createLogger, type Logger } from '../core/log.js';
import { createProgress } from '../core/progress.js';
import type { CommonOptions } from '../core/command.js';
import { readImageSize } from '../core/image.js';
import { showPath } from '../core/quote.js';
import type { LoadedModel } from '../models/index.js';
import { numClasses } from './base.js';
import { parseClassSelection, selectedClasses } from '../models/classes.js';
import { forwardLogits, logitsSource } from './graph.js';
import { resolveSettings, type ExplainOptionValues, type OptionGroup } from './options.js';
import { resolveOutputSettings, type OutputOptionValues, type OutputSettings } from './output_options.js';
import type { PatchGrid } from './image_game.js';
import {
  DEFAULT_EXPLAIN_METHODS, EXPLAINERS, EXPLAINER_NAMES, renderSideBySide,
  type ExplainSettings, type ExplainerEntry, type ExplainerName, type ImageContext, type MethodOutput,
} from './registry.js';

/** The sample photos explained when no image is given. */
export const SAMPLE_IMAGES_DIR = fileURLToPath(new URL('../../../data/images/', import.meta.url));
export const DEFAULT_MODEL = 'resnet18';

/** Options of gradcam / shap / explain (command-line names in camelCase; the methods' own in options.ts). */
export interface ExplainOptions extends CommonOptions, ExplainOptionValues, OutputOptionValues {
  /** resnet18 | vgg16 | path to a model.json or its folder. */
  model: string;
  /** Class to explain: index or label; default the top-1 prediction. */
  class?: string;
  /** `gradcam`: the CAM method. */
  method?: ExplainerName;
  /** `explain`: comma-separated method names. */
  methods?: string;
  /** dnnkit home (model cache); default $DNNKIT_HOME or ~/.cache/dnnkit. */
  home?: string;
  /** Folder arguments: also take the images in their sub-folders. */
  recursive?: boolean;
  /** `K/N` (1-based), `auto` or `auto/N`: run one shard of the images (core/shard.ts parseShard). */
  shard?: string;
}

/** Parses `--methods a,b` against the registry; no list gives `fallback`. */
export function parseMethods(spec: string | undefined, fallback: readonly ExplainerName[] = DEFAULT_EXPLAIN_METHODS): ExplainerName[] {
  const names = (spec ?? fallback.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError(`--methods is empty; use some of ${EXPLAINER_NAMES.join(', ')}`);
  for (const n of names) {
    if (!(EXPLAINER_NAMES as string[]).includes(n)) throw new UsageError(`--methods: unknown method '${n}'; use some of ${EXPLAINER_NAMES.join(', ')}`);
  }
  return [...new Set(names)] as ExplainerName[];
}

/** The images to explain: the arguments (files and folders), or the sample photos. */
async function imageItems(args: readonly string[], recursive: boolean | undefined): Promise<ImageItem[]> {
  return collectImages(args.length > 0 ? args : [SAMPLE_IMAGES_DIR], { recursive });
}

/** The option groups of the methods, each once. */
export function optionGroupsOf(methods: readonly ExplainerName[]): OptionGroup[] {
  return [...new Set(methods.map((m) => EXPLAINERS[m].options))];
}

/** Checks the settings of every group against the model's input shape and, when given, the model. */
function checkSettings(groups: readonly OptionGroup[], settings: ExplainSettings, inputShape: readonly number[], model?: tf.LayersModel): void {
  for (const g of groups) g.check(settings, inputShape, model);
}

/** The largest minimum image size the groups ask for (the Shapley patch grid), if any. */
function minImageSize(groups: readonly OptionGroup[], settings: ExplainSettings): PatchGrid | undefined {
  const sizes = groups.map((g) => g.minImageSize(settings)).filter((s): s is PatchGrid => s !== undefined);
  return sizes.length === 0 ? undefined : { rows: Math.max(...sizes.map((s) => s.rows)), cols: Math.max(...sizes.map((s) => s.cols)) };
}

/** A short, file-name-safe name for the model. */
function modelShortName(loaded: LoadedModel, spec: string): string {
  const raw = loaded.name || path.basename(spec.replace(/[\\/]model\.json$/, ''));
  return raw.replace(/[^\w.-]+/g, '_') || 'model';
}

/** Checks an image file's header before anything slow: an image, and not smaller than the patch grid. */
async function checkImage(file: string, grid: { rows: number; cols: number } | undefined): Promise<void> {
  const { width, height } = await readImageSize(file);
  if (grid && (width < grid.cols || height < grid.rows)) {
    throw new InputError(`${showPath(file)} is ${width}x${height} pixels, smaller than the ${grid.rows}x${grid.cols} patch grid; use a larger image or fewer patches`);
  }
}

/** A preprocessed image: the model input [1, h, w, c] and the RGB image the model sees. */
type Preprocessed = Awaited<ReturnType<LoadedModel['preprocess']>>;

/** The table every explain command writes in --out: one row per image x class x method. */
export const SUMMARY_CSV = 'summary.csv';

/** What runExplainers returns (the --json summary; run.json records it as `result`). */
export interface ExplainRunResult {
  /** gradcam (or the CAM method), shap, or explain. */
  command: string;
  methods: ExplainerName[];
  model: string;
  backend: string;
  /** The settings the methods used. */
  settings: Record<string, unknown>;
  versions: { tfjs: string; node: string };
  seconds: number;
  /** Model evaluations of the methods that count them, and their rate. */
  forwardPasses?: number;
  forwardPassesPerSecond?: number;
  outDir: string;
  /** This run's shard (K/N, 1-based), or null for an unsharded run. */
  shard: { index: number; count: number; source: Shard['source'] } | null;
  /** Images in the whole input, and in this shard. */
  totalImages: number;
  shardImages: number;
  /** Images of this shard found done by an earlier run and not computed again. */
  skipped: number;
  /** The table written: summary.csv, or summary.shard-K-of-N.csv. */
  summaryCsv: string;
  /** One entry per image and class: its summary fields, seconds and files. */
  images: ExplainImageEntry[];
}

/** One image and class of an explain run (`--json`'s `images[]`). */
export interface ExplainImageEntry {
  /** The image file as given (or found in a folder). */
  image: string;
  /** Its path relative to the input root (summary.csv's `image`). */
  key: string;
  /** The output name (`<name>.<model>.<method>.png`). */
  name: string;
  classIndex: number;
  label: string;
  probability: number;
  /** Each method's summary fields, seconds and files (several CAMs share field names). */
  byMethod: Record<string, Record<string, unknown>>;
  /** `explain`: the side-by-side figure. */
  figurePng?: string;
  /** The methods' summary fields and file paths, flattened (e.g. overlayPng, rawPng, phi, camRawMax). */
  [field: string]: unknown;
}

/**
 * Runs the given explainers on every image (or, with opts.shard, on the shard's images, skipping
 * those an earlier run of the shard finished). Checks every input before writing anything.
 */
export async function runExplainers(methods: readonly ExplainerName[], opts: ExplainOptions, args: readonly string[], mode: 'separate' | 'side-by-side'): Promise<ExplainRunResult> {
  const shard = opts.shard === undefined ? undefined : parseShard(opts.shard);
  const backend = await initBackend(opts.backend);
  const groups = optionGroupsOf(methods);
  const settings = resolveSettings(opts, groups);
  const output = resolveOutputSettings(opts); // --overlay, --raw: how the maps are drawn and written
  const all = await imageItems(args, opts.recursive);
  const mine = shardItems(all, shard);
  const spec = opts.model ?? DEFAULT_MODEL;
  const tag = mode === 'side-by-side' ? 'explain' : methods[0];
  // Everything that changes an item's files: a record made with other settings is not done.
  const fpr = fingerprint({ tag, methods, mode, model: spec, class: opts.class ?? null, settings, output });
  const done = await doneItems(opts.out, mine, tag, fpr, shard);
  const todo = mine.filter((it) => !done.has(it.name));
  const { resolveModel, factsBeforeLoading } = await import('../models/index.js'); // lazy: CLI start-up stays fast
  // Inputs first: a registry model may have to be downloaded (47 MB, 528 MB) before it loads.
  const minSize = minImageSize(groups, settings);
  for (const it of todo) await checkImage(it.file, minSize);
  const facts = factsBeforeLoading(spec);
  const images = new KeptImages<Preprocessed>();
  try {
    if (facts) {
      parseClassSelection(opts.class, facts.classNames.length, facts.classNames); // a bad --class fails before any download
      if (groups.some((g) => g.needsArchitecture(settings))) await facts.withArchitecture((m) => checkSettings(groups, settings, facts.inputShape, m));
      else checkSettings(groups, settings, facts.inputShape);
      for (const it of todo) images.offer(it.file, await facts.preprocess(it.file));
    }
    const loaded = await resolveModel(spec, { home: opts.home, quiet: opts.json });
    try {
      return await explainWith(loaded, { spec, methods, groups, settings, output, opts, mode, backend, shard, tag, fpr, decoded: facts !== undefined }, { all, mine, todo, done }, images);
    } finally {
      loaded.model.dispose();
    }
  } finally {
    images.dispose();
  }
}

/** What explainWith needs to know of the run. */
interface RunPlan {
  spec: string;
  methods: readonly ExplainerName[];
  groups: readonly OptionGroup[];
  settings: ExplainSettings;
  /** --overlay, --raw. */
  output: OutputSettings;
  opts: ExplainOptions;
  mode: 'separate' | 'side-by-side';
  backend: BackendInfo;
  shard: Shard | undefined;
  /** Names the item records (items/<name>.<tag>.json). */
  tag: string;
  /** The settings fingerprint of the item records. */
  fpr: string;
  /** Whether every image to do was decoded before the model loaded (a registry model). */
  decoded: boolean;
}

/** The run's images: all of them, this shard's, those still to do, and those done (by name). */
interface RunItems {
  all: ImageItem[];
  mine: ImageItem[];
  todo: ImageItem[];
  done: Map<string, ItemRecord>;
}

async function explainWith(loaded: LoadedModel, plan: RunPlan, items: RunItems, images: KeptImages<Preprocessed>): Promise<ExplainRunResult> {
  const { spec, methods, groups, settings, output, opts, mode, backend, shard, tag, fpr, decoded } = plan;
  const log = createLogger(opts.json);
  const source = logitsSource(loaded.model);
  const selection = parseClassSelection(opts.class, numClasses(loaded.model, source), loaded.classNames);
  checkSettings(groups, settings, loaded.inputShape, loaded.model); // --layer names a 4-D layer, the grid fits the input
  // A model from a folder preprocesses only now: every image still decodes before anything is written.
  if (!decoded) for (const it of items.todo) images.offer(it.file, await loaded.preprocess(it.file));
  const modelName = modelShortName(loaded, spec);
  const command = mode === 'side-by-side' ? 'explain' : methods[0];
  const outDir = await prepareOutDir(opts.out, { lock: shardLockName(shard) });
  const { recordName, tableName, written } = await beginShardRun(outDir, { shard, command, tag, table: SUMMARY_CSV, fingerprint: fpr, items: items.all, legacy: [`run.${command}.json`] });
  const n = items.mine.length;
  const empty = emptyShardWarning(shard, items.all.length, 'images');
  if (empty) log.warn(empty);
  log.info(`model ${modelName} on ${backend.name}; ${n} image${n === 1 ? '' : 's'}${shard ? ` (shard ${shard.index}/${shard.count} of ${items.all.length}; ${items.done.size} done before)` : ''} -> ${outDir}`);
  const tally: PassTally = { passes: 0, seconds: 0, counted: false };
  const started = Date.now();
  const rows: TableRow[] = [];
  const results: ExplainImageEntry[] = [];
  for (const it of items.mine) {
    const rec = items.done.get(it.name);
    if (rec) {
      const recFile = itemRecordPath(it.name, tag);
      log.info(`${it.key}: skipped, done by an earlier run (${recFile})`);
      rows.push(...rec.rows);
      results.push(...(entriesIn(rec, outDir) as ExplainImageEntry[]));
      written.push(...Object.keys(rec.files), recFile);
      continue;
    }
    const t0 = Date.now();
    const image = images.take(it.file) ?? await loaded.preprocess(it.file);
    try {
      const probs = tf.tidy(() => tf.softmax(forwardLogits(loaded.model, image.input, source)).dataSync());
      const classes = selectedClasses(selection, probs);
      const item = { entries: [] as ExplainImageEntry[], rows: [] as TableRow[], files: [] as string[] };
      for (const classIndex of classes) {
        const label = loaded.classNames?.[classIndex] ?? `class ${classIndex}`;
        // several classes: one set of files per class (photo.c281, photo.c285)
        const name = classes.length > 1 ? `${it.name}.c${classIndex}` : it.name;
        const ctx: ImageContext = { name, modelName, model: loaded.model, input: image.input, display: image.display, view: image.view, output, classIndex, label, probability: probs[classIndex] };
        const r = await explainImage(ctx, it, methods, settings, { opts, mode, outDir, log, tally });
        item.entries.push(r.entry);
        item.rows.push(...r.rows);
        item.files.push(...r.files);
      }
      rows.push(...item.rows);
      results.push(...item.entries);
      written.push(...item.files);
      // The item's record last: from now on a rerun of this shard skips it.
      if (shard) written.push(await writeItemRecord(outDir, tag, { key: it.key, name: it.name, fingerprint: fpr, files: item.files, rows: item.rows, entries: item.entries, seconds: (Date.now() - t0) / 1000 }));
    } finally {
      image.input.dispose();
    }
  }
  await writeTable(path.join(outDir, tableName), rows);
  written.push(tableName);
  const summary: ExplainRunResult = {
    command,
    methods: [...methods],
    model: modelName,
    backend: backend.name,
    settings: Object.assign({ class: opts.class ?? 'top-1', overlay: output.overlay, ...(mode === 'separate' ? { raw: output.raw } : {}) }, ...methods.map((m) => (EXPLAINERS[m] as ExplainerEntry).settingsSummary(settings))) as Record<string, unknown>,
    versions: { tfjs: backend.tfjsVersion, node: backend.nodeVersion },
    seconds: (Date.now() - started) / 1000,
    ...(tally.counted ? { forwardPasses: tally.passes, forwardPassesPerSecond: tally.passes / Math.max(tally.seconds, 1e-9) } : {}),
    outDir,
    shard: shard ? { ...shard } : null,
    totalImages: items.all.length,
    shardImages: items.mine.length,
    skipped: items.done.size,
    summaryCsv: path.join(outDir, tableName),
    images: results,
  };
  // run.json (run.shard-K-of-N.json) last, in the one schema of docs/run-record.schema.json, listing every file written.
  const settingsRecorded = { ...summary.settings, shard: shard ? `${shard.index}/${shard.count}` : null, recursive: opts.recursive === true };
  await writeRunRecord(outDir, buildRunRecord({ command: summary.command, started: new Date(started), seed: opts.seed, settings: settingsRecorded, result: summary }), written, recordName);
  return summary;
}

/** Forward passes counted by the methods that count them (Shapley, Integrated Gradients), and their time. */
interface PassTally {
  passes: number;
  seconds: number;
  counted: boolean;
}

/** Columns of summary.csv that are not a method's own; a method field of the same name is prefixed (shap_method). */
const FIXED_COLUMNS = ['image', 'class', 'label', 'probability', 'method', 'seconds', 'files'];

/** A method's scalar summary fields as table cells (arrays such as the Shapley values are in the method's own CSV). */
function scalarFields(method: string, summary: Record<string, unknown>): TableRow {
  const row: TableRow = {};
  for (const [k, v] of Object.entries(summary)) {
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') row[FIXED_COLUMNS.includes(k) ? `${method}_${k}` : k] = v;
  }
  return row;
}

/**
 * Runs the methods on one image and class and writes its files (each method's, or the side-by-side
 * figure). Returns the --json entry (the methods' summary fields, also per method under
 * `byMethod` as several CAMs share field names, seconds and file paths), the summary.csv rows
 * (one per method) and the files written (relative to outDir).
 */
async function explainImage(ctx: ImageContext, item: ImageItem, methods: readonly ExplainerName[], settings: ExplainSettings,
  run: { opts: ExplainOptions; mode: 'separate' | 'side-by-side'; outDir: string; log: Logger; tally: PassTally }): Promise<{ entry: ExplainImageEntry; rows: TableRow[]; files: string[] }> {
  const { opts, mode, outDir, log, tally } = run;
  log.info(`${item.key}: ${ctx.label} (class ${ctx.classIndex}), p = ${ctx.probability.toFixed(3)}`);
  const byMethod: Record<string, Record<string, unknown>> = {};
  const entry: ExplainImageEntry = { image: item.file, key: item.key, name: ctx.name, classIndex: ctx.classIndex, label: ctx.label, probability: ctx.probability, byMethod };
  const outputs: MethodOutput[] = [];
  const perMethod: Array<{ method: string; summary: Record<string, unknown>; seconds: number; files: string[] }> = [];
  for (const m of methods) {
    let bar: ReturnType<typeof createProgress> | undefined;
    const onProgress = (done: number, total: number) => {
      bar ??= createProgress({ total, label: `${m} ${ctx.name}`, quiet: opts.json });
      bar.update(done);
    };
    const t0 = Date.now();
    const out = await EXPLAINERS[m].explain(ctx, { ...settings, onProgress });
    bar?.stop();
    const seconds = (Date.now() - t0) / 1000;
    if (out.forwardPasses !== undefined) {
      tally.counted = true;
      tally.passes += out.forwardPasses;
      tally.seconds += seconds;
      log.info(`  ${m}: ${out.forwardPasses} forward passes in ${seconds.toFixed(1)} s (${(out.forwardPasses / seconds).toFixed(1)}/s)${out.note ? `, ${out.note}` : ''}`);
    }
    outputs.push(out);
    const files = mode === 'separate' ? await out.write(outDir) : {};
    Object.assign(entry, out.summary, { [`${m}Seconds`]: seconds }, files);
    byMethod[m] = { ...out.summary, seconds, ...files };
    perMethod.push({ method: m, summary: out.summary, seconds, files: Object.values(files) });
  }
  if (mode === 'side-by-side') {
    const png = path.join(outDir, `${ctx.name}.${ctx.modelName}.explain.png`);
    await writeFileAtomic(png, await renderSideBySide(ctx, outputs));
    entry.figurePng = png;
    for (const p of perMethod) p.files = [png];
  }
  const rows = perMethod.map((p) => ({
    image: item.key, class: ctx.classIndex, label: ctx.label, probability: ctx.probability, method: p.method,
    ...scalarFields(p.method, p.summary), seconds: p.seconds, files: p.files.map((f) => path.relative(outDir, f)).join(';'),
  }));
  return { entry, rows, files: [...new Set(perMethod.flatMap((p) => p.files.map((f) => path.relative(outDir, f))))] };
}
