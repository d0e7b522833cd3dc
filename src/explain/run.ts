/**
 * The explain commands' runs (`gradcam`, `shap`, `explain`): validate every input first (model,
 * layer, class, grid, images), then create --out and write each image's files. Testable directly:
 * `await runExplainers(['gradcam'], opts, files)`.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendInfo } from '../core/backend.js';
import { InputError, UsageError } from '../core/errors.js';
import { prepareOutDir, writeFileAtomic } from '../core/fsutil.js';
import { buildRunRecord, invalidateRunRecord, writeRunRecord } from '../core/run_record.js';
import { createLogger, type Logger } from '../core/log.js';
import { createProgress } from '../core/progress.js';
import type { CommonOptions } from '../core/command.js';
import { readImageSize } from '../core/image.js';
import { showPath } from '../core/quote.js';
import type { LoadedModel } from '../models/index.js';
import { numClasses } from './base.js';
import { parseClassSelection, selectedClasses, type ClassSelection } from '../models/classes.js';
import { forwardLogits, logitsSource, type LogitsSource } from './graph.js';
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

/** The images to explain: the arguments, or the sample photos. */
async function imageFiles(args: readonly string[]): Promise<string[]> {
  if (args.length > 0) return [...args];
  const files = (await fsp.readdir(SAMPLE_IMAGES_DIR)).filter((f) => f.endsWith('.png')).sort();
  return files.map((f) => path.join(SAMPLE_IMAGES_DIR, f));
}

/** Output base names, unique within a run ("photo", "photo-2", ...). */
function uniqueNames(files: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return files.map((f) => {
    const base = path.basename(f).replace(/\.[^.]+$/, '').replace(/[^\w.-]+/g, '_') || 'image';
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
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

interface Prepared {
  file: string;
  ctx: ImageContext;
}

/**
 * Runs the given explainers on every image. Returns the --json summary.
 */
export async function runExplainers(methods: readonly ExplainerName[], opts: ExplainOptions, args: readonly string[], mode: 'separate' | 'side-by-side'): Promise<object> {
  const backend = await initBackend(opts.backend);
  const groups = optionGroupsOf(methods);
  const settings = resolveSettings(opts, groups);
  const output = resolveOutputSettings(opts); // --overlay, --raw: how the maps are drawn and written
  const files = await imageFiles(args);
  const spec = opts.model ?? DEFAULT_MODEL;
  const { resolveModel, factsBeforeLoading } = await import('../models/index.js'); // lazy: CLI start-up stays fast
  // Inputs first: a registry model may have to be downloaded (47 MB, 528 MB) before it loads.
  const minSize = minImageSize(groups, settings);
  for (const f of files) await checkImage(f, minSize);
  const facts = factsBeforeLoading(spec);
  // images[i]: file i preprocessed (before loading for a registry model, else once the model is loaded); disposed here.
  const images: Preprocessed[] = [];
  try {
    if (facts) {
      parseClassSelection(opts.class, facts.classNames.length, facts.classNames); // a bad --class fails before any download
      if (groups.some((g) => g.needsArchitecture(settings))) await facts.withArchitecture((m) => checkSettings(groups, settings, facts.inputShape, m));
      else checkSettings(groups, settings, facts.inputShape);
      for (const f of files) images.push(await facts.preprocess(f));
    }
    const loaded = await resolveModel(spec, { home: opts.home, quiet: opts.json });
    try {
      return await explainWith(loaded, spec, methods, groups, settings, files, images, opts, mode, backend, output);
    } finally {
      loaded.model.dispose();
    }
  } finally {
    for (const im of images) im.input.dispose();
  }
}

/** `images`: the files already preprocessed (possibly none); explainWith adds the rest, the caller disposes them. */
async function explainWith(loaded: LoadedModel, spec: string, methods: readonly ExplainerName[], groups: readonly OptionGroup[], settings: ExplainSettings, files: string[],
  images: Preprocessed[], opts: ExplainOptions, mode: 'separate' | 'side-by-side', backend: BackendInfo, output: OutputSettings): Promise<object> {
  const log = createLogger(opts.json);
  const source = logitsSource(loaded.model);
  const selection = parseClassSelection(opts.class, numClasses(loaded.model, source), loaded.classNames);
  checkSettings(groups, settings, loaded.inputShape, loaded.model); // --layer names a 4-D layer, the grid fits the input
  const prepared = await prepareImages(loaded, spec, files, images, selection, source, output);
  const modelName = prepared[0]?.ctx.modelName ?? modelShortName(loaded, spec);
  const outDir = await prepareOutDir(opts.out);
  await invalidateRunRecord(outDir, [`run.${mode === 'side-by-side' ? 'explain' : methods[0]}.json`]);
  log.info(`model ${modelName} on ${backend.name}; ${files.length} image${files.length === 1 ? '' : 's'} -> ${outDir}`);
  const tally: PassTally = { passes: 0, seconds: 0, counted: false };
  const started = Date.now();
  const results: Record<string, unknown>[] = [];
  for (const { file, ctx } of prepared) results.push(await explainImage(ctx, file, methods, settings, { opts, mode, outDir, log, tally }));
  const summary = {
    command: mode === 'side-by-side' ? 'explain' : methods[0],
    methods,
    model: modelName,
    backend: backend.name,
    settings: Object.assign({ class: opts.class ?? 'top-1', overlay: output.overlay, ...(mode === 'separate' ? { raw: output.raw } : {}) }, ...methods.map((m) => (EXPLAINERS[m] as ExplainerEntry).settingsSummary(settings))),
    versions: { tfjs: backend.tfjsVersion, node: backend.nodeVersion },
    seconds: (Date.now() - started) / 1000,
    ...(tally.counted ? { forwardPasses: tally.passes, forwardPassesPerSecond: tally.passes / Math.max(tally.seconds, 1e-9) } : {}),
    outDir,
    images: results,
  };
  // run.json last, in the one schema of docs/run-record.schema.json, listing every file written.
  const written = results.flatMap((r) => Object.values(r)).filter((v): v is string => typeof v === 'string' && v.startsWith(outDir + path.sep)).map((f) => path.relative(outDir, f));
  await writeRunRecord(outDir, buildRunRecord({ command: summary.command, started: new Date(started), seed: opts.seed, settings: summary.settings, result: summary }), written);
  return summary;
}

/**
 * Decodes and preprocesses every image and picks its classes (--class: top-1 by default, topK, an
 * index, a name or a list), before anything is written: one entry per (image, class). With
 * several classes, output names get `.c<class>` (photo.c281, photo.c285).
 */
async function prepareImages(loaded: LoadedModel, spec: string, files: readonly string[], images: Preprocessed[], selection: ClassSelection | undefined, source: LogitsSource,
  output: OutputSettings): Promise<Prepared[]> {
  const model = loaded.model;
  const names = uniqueNames(files);
  const modelName = modelShortName(loaded, spec);
  const prepared: Prepared[] = [];
  for (let i = 0; i < files.length; i++) {
    images[i] ??= await loaded.preprocess(files[i]);
    const { input, display, view } = images[i];
    const probs = tf.tidy(() => tf.softmax(forwardLogits(model, input, source)).dataSync());
    const classes = selectedClasses(selection, probs);
    for (const classIndex of classes) {
      const label = loaded.classNames?.[classIndex] ?? `class ${classIndex}`;
      const name = classes.length > 1 ? `${names[i]}.c${classIndex}` : names[i];
      prepared.push({ file: files[i], ctx: { name, modelName, model, input, display, view, output, classIndex, label, probability: probs[classIndex] } });
    }
  }
  return prepared;
}

/** Forward passes counted by the methods that count them (Shapley, Integrated Gradients), and their time. */
interface PassTally {
  passes: number;
  seconds: number;
  counted: boolean;
}

/**
 * Runs the methods on one image and writes its files (each method's, or the side-by-side figure).
 * Returns the image's --json entry: the methods' summary fields (also per method under `byMethod`,
 * as several CAMs share field names), seconds and file paths.
 */
async function explainImage(ctx: ImageContext, file: string, methods: readonly ExplainerName[], settings: ExplainSettings,
  run: { opts: ExplainOptions; mode: 'separate' | 'side-by-side'; outDir: string; log: Logger; tally: PassTally }): Promise<Record<string, unknown>> {
  const { opts, mode, outDir, log, tally } = run;
  log.info(`${path.basename(file)}: ${ctx.label} (class ${ctx.classIndex}), p = ${ctx.probability.toFixed(3)}`);
  const entry: Record<string, unknown> = { image: file, classIndex: ctx.classIndex, label: ctx.label, probability: ctx.probability };
  const byMethod: Record<string, unknown> = {};
  const outputs: MethodOutput[] = [];
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
  }
  if (mode === 'side-by-side') {
    const png = path.join(outDir, `${ctx.name}.${ctx.modelName}.explain.png`);
    await writeFileAtomic(png, await renderSideBySide(ctx, outputs));
    entry.figurePng = png;
  }
  entry.byMethod = byMethod;
  return entry;
}
