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
import { createLogger } from '../core/log.js';
import { createProgress } from '../core/progress.js';
import type { CommonOptions } from '../core/command.js';
import { readImageSize } from '../core/image.js';
import { showPath } from '../core/quote.js';
import type { LoadedModel } from '../models/index.js';
import { GradCam } from './grad_cam.js';
import { findTargetLayer, numClasses, resolveClassIndex } from './base.js';
import { forwardLogits, logitsSource } from './graph.js';
import { BASELINE_NAMES, MAX_EXACT_PLAYERS, parseGrid, patchIndexMap, type BaselineName } from './patch_shapley.js';
import {
  DEFAULT_EXPLAIN_SETTINGS, EXPLAINERS, EXPLAINER_NAMES, renderSideBySide,
  type ExplainSettings, type ExplainerName, type ImageContext, type MethodOutput,
} from './registry.js';

/** The sample photos explained when no image is given. */
export const SAMPLE_IMAGES_DIR = fileURLToPath(new URL('../../../data/images/', import.meta.url));
export const DEFAULT_MODEL = 'resnet18';

/** Options of gradcam / shap / explain (command-line names in camelCase). */
export interface ExplainOptions extends CommonOptions {
  /** resnet18 | vgg16 | path to a model.json or its folder. */
  model: string;
  /** Class to explain: index or label; default the top-1 prediction. */
  class?: string;
  /** Grad-CAM target layer. */
  layer?: string;
  /** Number of patches (a perfect square). */
  patches?: number;
  /** Patch grid RxC (instead of --patches). */
  grid?: string;
  baseline?: BaselineName;
  samples?: number;
  batch?: number;
  exact?: boolean;
  /** `explain`: comma-separated method names. */
  methods?: string;
  /** dnnkit home (model cache); default $DNNKIT_HOME or ~/.cache/dnnkit. */
  home?: string;
}

/** Parses `--methods a,b` against the registry. */
export function parseMethods(spec: string | undefined): ExplainerName[] {
  const names = (spec ?? EXPLAINER_NAMES.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
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

/** Builds the settings from the options (validated). */
export function settingsFrom(opts: ExplainOptions, methods: readonly ExplainerName[]): ExplainSettings {
  const d = DEFAULT_EXPLAIN_SETTINGS;
  const grid = methods.includes('shap') ? parseGrid(opts.patches, opts.grid) : d.grid;
  const baseline = opts.baseline ?? d.baseline;
  if (!(BASELINE_NAMES as string[]).includes(baseline)) throw new UsageError(`--baseline ${baseline}: use one of ${BASELINE_NAMES.join(', ')}`);
  const exact = Boolean(opts.exact);
  if (exact && grid.rows * grid.cols > MAX_EXACT_PLAYERS) {
    throw new UsageError(`--exact enumerates all coalitions and allows at most ${MAX_EXACT_PLAYERS} patches, got ${grid.rows * grid.cols}; drop --exact or use a smaller grid (e.g. --grid 3x4)`);
  }
  return { layer: opts.layer, grid, baseline, samples: opts.samples ?? d.samples, batch: opts.batch ?? d.batch, exact, seed: opts.seed ?? d.seed };
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
  const settings = settingsFrom(opts, methods);
  const files = await imageFiles(args);
  const spec = opts.model ?? DEFAULT_MODEL;
  const { resolveModel, factsBeforeLoading } = await import('../models/index.js'); // lazy: CLI start-up stays fast
  // Inputs first: a registry model may have to be downloaded (47 MB, 528 MB) before it loads.
  for (const f of files) await checkImage(f, methods.includes('shap') ? settings.grid : undefined);
  const facts = factsBeforeLoading(spec);
  // images[i]: file i preprocessed (before loading for a registry model, else once the model is loaded); disposed here.
  const images: Preprocessed[] = [];
  try {
    if (facts) {
      resolveClassIndex(opts.class, facts.classNames.length, facts.classNames);
      if (methods.includes('shap')) patchIndexMap(settings.grid, facts.inputShape[0], facts.inputShape[1]);
      if (methods.includes('gradcam') && settings.layer !== undefined) await facts.withArchitecture((m) => findTargetLayer(m, settings.layer));
      for (const f of files) images.push(await facts.preprocess(f));
    }
    const loaded = await resolveModel(spec, { home: opts.home, quiet: opts.json });
    try {
      return await explainWith(loaded, spec, methods, settings, files, images, opts, mode, backend);
    } finally {
      loaded.model.dispose();
    }
  } finally {
    for (const im of images) im.input.dispose();
  }
}

/** `images`: the files already preprocessed (possibly none); explainWith adds the rest, the caller disposes them. */
async function explainWith(loaded: LoadedModel, spec: string, methods: readonly ExplainerName[], settings: ExplainSettings, files: string[],
  images: Preprocessed[], opts: ExplainOptions, mode: 'separate' | 'side-by-side', backend: BackendInfo): Promise<object> {
  const log = createLogger(opts.json);
  const model = loaded.model;
  const source = logitsSource(model);
  const classes = numClasses(model, source);
  const requested = resolveClassIndex(opts.class, classes, loaded.classNames);
  if (methods.includes('gradcam')) new GradCam(model, { layer: settings.layer }); // validates --layer now
  const [h, w] = loaded.inputShape;
  if (methods.includes('shap')) patchIndexMap(settings.grid, h, w); // the grid must fit the model input

  // Decode and preprocess every image before writing anything.
  const names = uniqueNames(files);
  const modelName = modelShortName(loaded, spec);
  const prepared: Prepared[] = [];
  for (let i = 0; i < files.length; i++) {
    images[i] ??= await loaded.preprocess(files[i]);
    const { input, display } = images[i];
    const { classIndex, probability } = tf.tidy(() => {
      const probs = tf.softmax(forwardLogits(model, input, source)).dataSync();
      const c = requested ?? probs.indexOf(Math.max(...probs));
      return { classIndex: c, probability: probs[c] };
    });
    const label = loaded.classNames?.[classIndex] ?? `class ${classIndex}`;
    prepared.push({ file: files[i], ctx: { name: names[i], modelName, model, input, display, classIndex, label, probability } });
  }
  const outDir = await prepareOutDir(opts.out);
  log.info(`model ${modelName} on ${backend.name}; ${files.length} image${files.length === 1 ? '' : 's'} -> ${outDir}`);
  const results: Record<string, unknown>[] = [];
  let passes = 0;
  let shapSeconds = 0;
  const started = Date.now();
  for (const { file, ctx } of prepared) {
    log.info(`${path.basename(file)}: ${ctx.label} (class ${ctx.classIndex}), p = ${ctx.probability.toFixed(3)}`);
    const entry: Record<string, unknown> = { image: file, classIndex: ctx.classIndex, label: ctx.label, probability: ctx.probability };
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
      if (m === 'shap') {
        const ev = out.summary.evaluations as number;
        passes += ev;
        shapSeconds += seconds;
        log.info(`  shap: ${ev} forward passes in ${seconds.toFixed(1)} s (${(ev / seconds).toFixed(1)}/s), efficiency gap ${(out.summary.efficiencyGap as number).toExponential(1)}`);
      }
      outputs.push(out);
      Object.assign(entry, out.summary, { [`${m}Seconds`]: seconds });
      if (mode === 'separate') Object.assign(entry, await out.write(outDir));
    }
    if (mode === 'side-by-side') {
      const png = path.join(outDir, `${ctx.name}.${ctx.modelName}.explain.png`);
      await writeFileAtomic(png, await renderSideBySide(ctx, outputs));
      entry.figurePng = png;
    }
    results.push(entry);
  }
  const summary = {
    command: mode === 'side-by-side' ? 'explain' : methods[0],
    methods,
    model: modelName,
    backend: backend.name,
    settings: {
      class: opts.class ?? 'top-1',
      ...(methods.includes('gradcam') ? { layer: settings.layer ?? 'default (rectified output of the last conv layer)' } : {}),
      ...(methods.includes('shap') ? { grid: `${settings.grid.rows}x${settings.grid.cols}`, baseline: settings.baseline, samples: settings.samples, batch: settings.batch, exact: settings.exact, seed: settings.seed } : {}),
    },
    versions: { tfjs: backend.tfjsVersion, node: backend.nodeVersion },
    seconds: (Date.now() - started) / 1000,
    ...(methods.includes('shap') ? { forwardPasses: passes, forwardPassesPerSecond: passes / Math.max(shapSeconds, 1e-9) } : {}),
    outDir,
    images: results,
  };
  await writeFileAtomic(path.join(outDir, `run.${summary.command}.json`), JSON.stringify(summary, null, 2));
  return summary;
}
