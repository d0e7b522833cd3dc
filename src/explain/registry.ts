/**
 * The single registry of explainers: name -> entry. Everything about a method that a caller needs
 * is in its entry: name, title, description, kind, option group (options with defaults and
 * checks, options.ts), how to explain one image, and the settings summary written to run.json.
 * The commands' choices (`gradcam --method`, `explain --methods`, `explain-eval --methods`), the
 * help text, the output file suffixes and the faithfulness evaluation all derive from it
 * (STYLE lesson 1: pytorch-grad-cam keeps its method list twice and they drift).
 *
 * A CAM method is one file with a `BaseCam` subclass (base.ts) and one line here: `camEntry(...)`.
 */
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { cropRgb, type RgbImage } from '../core/image.js';
import { writeFileAtomic } from '../core/fsutil.js';
import { writeCsv } from '../core/csv.js';
import { upsampleBilinear, type CamClass, type CamResult } from './base.js';
import { GradCam } from './grad_cam.js';
import { GradCamPlusPlus } from './grad_cam_plus_plus.js';
import { XGradCam } from './xgrad_cam.js';
import { HiResCam } from './hires_cam.js';
import { LayerCam } from './layer_cam.js';
import { EigenCam } from './eigen_cam.js';
import { ScoreCam } from './score_cam.js';
import { AblationCam } from './ablation_cam.js';
import { makeBaseline, patchIndexMap, fitPixelMap, type BaselineName, type PatchGrid } from './image_game.js';
import { PatchShapley } from './patch_shapley.js';
import { IntegratedGradients } from './integrated_gradients.js';
import { GradientTimesInput } from './gradient_x_input.js';
import { Saliency } from './saliency.js';
import { SmoothGrad, standardNormals } from './smoothgrad.js';
import { Rise } from './rise.js';
import { deriveSeed } from '../core/rng.js';
import type { ShapleyResult } from './shapley.js';
import { CAM_OPTIONS, INTEGRATED_GRADIENTS_OPTIONS, NO_OPTIONS, RISE_OPTIONS, SHAPLEY_OPTIONS, SMOOTHGRAD_OPTIONS, type ExplainSettings, type OptionGroup } from './options.js';
import { camOverlay, dimOutside, renderFigure, shapleyCellText, shapleyOverlay, shapleyRange, type ImageRect, type Panel } from './render.js';
import { windowOn, type ImageView, type InputWindow } from '../models/preprocess.js';
import { coveredPixels, gridOnImage, mapOnImage, patchesOnImage, type PixelRect } from './original_view.js';
import { writeRawMap, type RawMapDescription } from './raw_map.js';
import { DEFAULT_OUTPUT_SETTINGS, type OutputSettings } from './output_options.js';

export { DEFAULT_EXPLAIN_SETTINGS, type ExplainSettings } from './options.js';

/** One image, ready to explain. */
export interface ImageContext {
  /** The image file's base name without extension (names the outputs). */
  name: string;
  /** The model's short name (names the outputs). */
  modelName: string;
  model: tf.LayersModel;
  /** [1, H, W, C] the preprocessed model input. */
  input: tf.Tensor4D;
  /** The RGB image the model sees (after resize/crop), H x W. */
  display: RgbImage;
  /** The original image and the input's window in it; absent: the display is the whole image. */
  view?: ImageView;
  /** How to draw and write the maps (default DEFAULT_OUTPUT_SETTINGS: over the whole image, 16-bit PNG). */
  output?: OutputSettings;
  classIndex: number;
  label: string;
  probability: number;
}

/** What one method gives for one image. */
export interface MethodOutput {
  /** [H * W] attribution per input pixel (higher = more evidence for the class). */
  pixelMap: Float32Array;
  /** The panel of the side-by-side figure. */
  panel: Panel;
  /** Fields of the --json summary (numbers, names). */
  summary: Record<string, unknown>;
  /**
   * Writes the method's files (`<name>.<model>.<suffix>.png/.csv`, and the full-resolution raw map
   * `.raw.png|.raw.csv` as ctx.output.raw says); returns the JSON path fields.
   */
  write(outDir: string): Promise<Record<string, string>>;
  /** Model evaluations, for the methods that count them (the log reports their rate). */
  forwardPasses?: number;
  /** A short check to log beside the forward passes (e.g. Shapley's efficiency gap). */
  note?: string;
}

export interface ExplainerEntry {
  /** The registry key: names the outputs (`<image>.<model>.<name>.png`) and the CLI choices. */
  name: string;
  /** Display name. */
  title: string;
  /** One line for --help. */
  description: string;
  /**
   * 'cam': a class activation map of a conv layer (`gradcam --method`); 'patches': patch Shapley
   * values; 'pixels': one attribution per input pixel (Integrated Gradients, Gradient x Input).
   */
  kind: 'cam' | 'patches' | 'pixels';
  /** Whether `explain` runs it when --methods is not given. */
  explainByDefault: boolean;
  /** The CAM class, for kind 'cam' (library use: `new EXPLAINERS.scorecam.cam(model).compute(x)`). */
  cam?: CamClass;
  /** Its command-line options, with defaults and checks (shared by the methods of a kind). */
  options: OptionGroup;
  /** The settings it used, for run.json and --json. */
  settingsSummary(settings: ExplainSettings): Record<string, unknown>;
  /** Explains one image. */
  explain(ctx: ImageContext, settings: ExplainSettings): Promise<MethodOutput>;
}

function fileBase(outDir: string, ctx: ImageContext, suffix: string): string {
  return path.join(outDir, `${ctx.name}.${ctx.modelName}.${suffix}`);
}

/** "tabby (class 281)", or "class 3" when the model has no class names. */
function classText(ctx: ImageContext): string {
  return ctx.label === `class ${ctx.classIndex}` ? ctx.label : `${ctx.label} (class ${ctx.classIndex})`;
}

function pct(p: number): string {
  return p >= 0.995 ? p.toFixed(3) : p >= 0.01 ? p.toFixed(2) : p.toPrecision(2);
}

/** An image to draw a map on, and where the model input lies in it. */
interface Canvas {
  image: RgbImage;
  /** The model input's window in `image`'s pixels. */
  window: InputWindow;
  /** The pixels the model saw. */
  covered: PixelRect;
  /** The display image itself (crop view, or a model without a view). */
  isInput: boolean;
}

function inputCanvas(ctx: ImageContext): Canvas {
  const { width, height } = ctx.display;
  return { image: ctx.display, window: { left: 0, top: 0, width, height }, covered: { x: 0, y: 0, width, height }, isInput: true };
}

/** The original image (at most MAX_RESIZED_PIXELS) with the input's window, or the display without a view. */
async function originalCanvas(ctx: ImageContext): Promise<Canvas> {
  if (!ctx.view) return inputCanvas(ctx);
  const image = await ctx.view.original();
  const window = windowOn(ctx.view, image);
  return { image, window, covered: coveredPixels(window, image), isInput: false };
}

/**
 * Longest side / shortest side of a drawn original. A panorama is drawn as the part around the
 * model's window (the window is about short x short, so this leaves a window's width of context on
 * each side): a 20000 x 100 strip drawn whole would make the window two pixels high.
 */
const MAX_OVERLAY_ASPECT = 3;

/** The canvas cut to at most MAX_OVERLAY_ASPECT : 1 around the window (unchanged when it fits). */
function aroundWindow(c: Canvas): Canvas {
  const { width: W, height: H } = c.image;
  const w = Math.min(W, Math.round(MAX_OVERLAY_ASPECT * H));
  const h = Math.min(H, Math.round(MAX_OVERLAY_ASPECT * W));
  if (w === W && h === H) return c;
  const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi, Math.round(v)));
  const x0 = clamp(c.window.left + c.window.width / 2 - w / 2, W - w);
  const y0 = clamp(c.window.top + c.window.height / 2 - h / 2, H - h);
  const image = cropRgb(c.image, x0, y0, w, h);
  const window = { ...c.window, left: c.window.left - x0, top: c.window.top - y0 };
  return { image, window, covered: coveredPixels(window, image), isInput: false };
}

/** Where the overlays are drawn: the original (--overlay full, the default) or the model input (crop). */
async function overlayCanvas(ctx: ImageContext): Promise<Canvas> {
  return (ctx.output ?? DEFAULT_OUTPUT_SETTINGS).overlay === 'crop' ? inputCanvas(ctx) : aroundWindow(await originalCanvas(ctx));
}

/** The window to outline and hatch outside, when the model did not see the whole canvas. */
function panelWindow(c: Canvas): ImageRect | undefined {
  const whole = c.covered.x === 0 && c.covered.y === 0 && c.covered.width === c.image.width && c.covered.height === c.image.height;
  return whole ? undefined : c.window;
}

/**
 * Writes the map at the original image's resolution in the --raw format (`<base>.raw.png|csv`).
 * @param valuesOn the map resampled on a canvas (NaN outside the window)
 */
async function writeRaw(base: string, ctx: ImageContext, method: string, values: string, valuesOn: (c: Canvas) => Float32Array, overlay?: { canvas: Canvas; map: Float32Array }): Promise<Record<string, string>> {
  const format = (ctx.output ?? DEFAULT_OUTPUT_SETTINGS).raw;
  if (format === 'none') return {};
  const canvas = await originalCanvas(ctx); // the whole original, even where the overlay shows a part
  const map = overlay && overlay.canvas.image === canvas.image ? overlay.map : valuesOn(canvas);
  const description: RawMapDescription = { values, method, model: ctx.modelName, image: ctx.name, classIndex: ctx.classIndex, label: ctx.label };
  return writeRawMap(base, format, map, canvas.image.width, canvas.image.height, canvas.covered, description);
}

/**
 * A CAM method as a registry entry: computes the map at the layer's resolution, upsamples it to
 * the image for the overlay and the faithfulness curves, and writes `<suffix>.csv` and `.png`.
 */
export function camEntry(name: string, Cam: CamClass, description: string, explainByDefault = false): ExplainerEntry {
  const title = Cam.title;
  return {
    name, title, description, kind: 'cam', cam: Cam, explainByDefault, options: CAM_OPTIONS,
    settingsSummary: (s) => ({ layer: s.layer ?? 'default (rectified output of the last conv layer)', augSmooth: s.augSmooth, eigenSmooth: s.eigenSmooth }),
    explain: async (ctx, settings) => camOutput(name, title, ctx, new Cam(ctx.model, { layer: settings.layer, batch: settings.batch, augSmooth: settings.augSmooth, eigenSmooth: settings.eigenSmooth }).compute(ctx.input, [ctx.classIndex])[0]),
  };
}

async function camOutput(name: string, title: string, ctx: ImageContext, r: CamResult): Promise<MethodOutput> {
  const { width, height } = ctx.display;
  const pixelMap = upsampleBilinear(r.cam, r.camHeight, r.camWidth, height, width);
  // On the original, the layer's map is upsampled once, straight to the original's pixels.
  const valuesOn = (c: Canvas) => (c.isInput ? pixelMap : mapOnImage(r.cam, r.camWidth, r.camHeight, c.window, c.image));
  const canvas = await overlayCanvas(ctx);
  const map = valuesOn(canvas);
  const panel: Panel = {
    image: camOverlay(canvas.image, map),
    caption: `${title} at layer '${r.layer}' (${r.camHeight}x${r.camWidth})${r.rawMax === 0 ? ' - no positive evidence' : ''}`,
    colourBar: { kind: 'turbo', min: 0, max: 1, label: `${title} (scaled to max)` },
    window: panelWindow(canvas),
  };
  return {
    pixelMap,
    panel,
    summary: { layer: r.layer, camHeight: r.camHeight, camWidth: r.camWidth, camRawMax: r.rawMax, overlaySize: `${canvas.image.width}x${canvas.image.height}` },
    async write(outDir) {
      const base = fileBase(outDir, ctx, name);
      const rows: number[][] = [];
      for (let y = 0; y < r.camHeight; y++) rows.push(Array.from(r.cam.slice(y * r.camWidth, (y + 1) * r.camWidth)));
      await writeCsv(`${base}.csv`, Array.from({ length: r.camWidth }, (_, x) => `x${x}`), rows);
      const png = await renderFigure([panel], `${title}: ${classText(ctx)}, p = ${pct(ctx.probability)}`, `${ctx.name}, model ${ctx.modelName}`);
      await writeFileAtomic(`${base}.png`, png);
      const raw = await writeRaw(base, ctx, name, `${title} at layer '${r.layer}', scaled to [0, 1], bilinear from ${r.camHeight}x${r.camWidth}`, valuesOn, { canvas, map });
      return { camCsv: `${base}.csv`, overlayPng: `${base}.png`, ...raw };
    },
  };
}

/**
 * The baseline image `name` for this image: `zero` is black through the model's preprocessing
 * (fitted from the display image), `blur` has sigma = half a cell of `grid`. [1, H, W, C]
 */
function baselineImage(ctx: ImageContext, name: BaselineName, grid: PatchGrid): tf.Tensor4D {
  const zero = name === 'zero' ? fitPixelMap(ctx.input.dataSync() as Float32Array, ctx.display.data, ctx.input.shape[3])?.offset : undefined;
  return makeBaseline(ctx.input, name, grid, zero);
}

/** Patch Shapley as a registry entry. */
async function explainShapley(ctx: ImageContext, settings: ExplainSettings): Promise<MethodOutput> {
  const [, h, w] = ctx.input.shape;
  const baseline = baselineImage(ctx, settings.baseline, settings.grid);
  let r: ShapleyResult;
  try {
    r = await new PatchShapley(ctx.model, settings.grid, settings).explain(ctx.input, baseline, ctx.classIndex);
  } finally {
    baseline.dispose();
  }
  const grid = settings.grid;
  const inputPatches = patchIndexMap(grid, h, w);
  const pixelMap = Float32Array.from(inputPatches, (p) => r.phi[p]);
  const maxAbs = shapleyRange(r.phi);
  const how = r.method === 'exact' ? 'exact' : `${r.permutations} permutations`;
  // The patches are cut from the model input (h x w); on the original they are the input's
  // patches seen through the window, their boundaries mapped back with it.
  const input = { width: w, height: h };
  const patchesOn = (c: Canvas) => patchesOnImage(grid, input, c.window, c.image);
  const canvas = await overlayCanvas(ctx);
  const patchOfPixel = patchesOn(canvas);
  const panel: Panel = {
    image: shapleyOverlay(canvas.image, r.phi, patchOfPixel, maxAbs),
    caption: `patch Shapley, ${grid.rows}x${grid.cols} patches, ${how}, baseline ${settings.baseline}`,
    colourBar: { kind: 'diverging', min: -maxAbs, max: maxAbs, label: 'phi: contribution to class log-odds' },
    grid: { ...grid, ...gridOnImage(grid, input, canvas.window) },
    cellText: shapleyCellText(r.phi, grid),
    window: panelWindow(canvas),
  };
  const valuesOn = (c: Canvas) => Float32Array.from(c === canvas ? patchOfPixel : patchesOn(c), (p) => (p < 0 ? NaN : r.phi[p]));
  return {
    pixelMap,
    panel,
    summary: {
      phi: r.phi, se: r.se, vFull: r.vFull, vEmpty: r.vEmpty, efficiencyGap: r.efficiencyGap,
      evaluations: r.evaluations, permutations: r.permutations, method: r.method, grid: `${grid.rows}x${grid.cols}`, baseline: settings.baseline,
      overlaySize: `${canvas.image.width}x${canvas.image.height}`,
    },
    async write(outDir) {
      const base = fileBase(outDir, ctx, 'shap');
      const rows = r.phi.map((phi, i) => [i, Math.floor(i / grid.cols), i % grid.cols, phi, r.se[i], r.ciLow[i], r.ciHigh[i]]);
      await writeCsv(`${base}.csv`, ['patch', 'row', 'col', 'phi', 'se', 'ci_low', 'ci_high'], rows);
      const sub = `${ctx.name}, model ${ctx.modelName}; v(N) = ${r.vFull.toFixed(2)}, v(empty) = ${r.vEmpty.toFixed(2)}, sum phi = ${r.phi.reduce((a, b) => a + b, 0).toFixed(2)}`;
      const png = await renderFigure([panel], `patch Shapley: ${classText(ctx)}, p = ${pct(ctx.probability)}`, sub);
      await writeFileAtomic(`${base}.png`, png);
      const raw = await writeRaw(base, ctx, 'shap', 'phi of the patch under each pixel: contribution to the class log-odds', valuesOn);
      return { csv: `${base}.csv`, png: `${base}.png`, ...raw };
    },
    forwardPasses: r.evaluations,
    note: `efficiency gap ${r.efficiencyGap.toExponential(1)}`,
  };
}

/**
 * The files of a per-pixel map: `<name>.<model>.<suffix>.csv` (one row per input pixel row),
 * `.png` (the panel) and the raw map at the original's resolution (--raw).
 */
async function writePixelMap(outDir: string, ctx: ImageContext, suffix: string, title: string, subtitle: string, panel: Panel, pixelMap: Float32Array,
  rawText: string, valuesOn: (c: Canvas) => Float32Array, overlay: { canvas: Canvas; map: Float32Array }): Promise<Record<string, string>> {
  const { width, height } = ctx.display;
  const base = fileBase(outDir, ctx, suffix);
  const rows: number[][] = [];
  for (let y = 0; y < height; y++) rows.push(Array.from(pixelMap.subarray(y * width, (y + 1) * width)));
  await writeCsv(`${base}.csv`, Array.from({ length: width }, (_, x) => `x${x}`), rows);
  await writeFileAtomic(`${base}.png`, await renderFigure([panel], `${title}: ${classText(ctx)}, p = ${pct(ctx.probability)}`, `${ctx.name}, model ${ctx.modelName}; ${subtitle}`));
  const raw = await writeRaw(base, ctx, suffix, rawText, valuesOn, overlay);
  return { attributionCsv: `${base}.csv`, attributionPng: `${base}.png`, ...raw };
}

/**
 * A per-pixel attribution as a method's output: a diverging overlay (blue negative, red positive)
 * and `<name>.<model>.<suffix>.csv` (one row per pixel row).
 * @param pixelMap [H * W] attribution per pixel of the display image
 */
async function pixelOutput(suffix: string, title: string, ctx: ImageContext, pixelMap: Float32Array, caption: string, subtitle: string, summary: Record<string, unknown>): Promise<MethodOutput> {
  const { width, height } = ctx.display;
  const values = Array.from(pixelMap);
  const maxAbs = shapleyRange(values); // the colour scale of the input-resolution map, in both views
  // On the original: the per-input-pixel values resampled (bilinear; averaged where the original is
  // smaller than the input). Values, not sums: see docs/RAW_MAPS.md for completeness.
  const valuesOn = (c: Canvas) => (c.isInput ? pixelMap : mapOnImage(pixelMap, width, height, c.window, c.image));
  const canvas = await overlayCanvas(ctx);
  const map = valuesOn(canvas);
  const panel: Panel = {
    image: shapleyOverlay(canvas.image, map, Int32Array.from({ length: canvas.image.width * canvas.image.height }, (_, p) => p), maxAbs),
    caption,
    colourBar: { kind: 'diverging', min: -maxAbs, max: maxAbs, label: 'contribution to the class logit' },
    window: panelWindow(canvas),
  };
  return {
    pixelMap,
    panel,
    summary: { ...summary, overlaySize: `${canvas.image.width}x${canvas.image.height}` },
    write: (outDir) => writePixelMap(outDir, ctx, suffix, title, subtitle, panel, pixelMap,
      `${title}: contribution to the class logit per input pixel (summed over channels), bilinear from ${width}x${height}`, valuesOn, { canvas, map }),
  };
}

/** Integrated Gradients as a registry entry. */
async function explainIntegratedGradients(ctx: ImageContext, settings: ExplainSettings): Promise<MethodOutput> {
  // blur: sigma = 1/8 of the image, half a cell of a 4 x 4 grid.
  const baseline = baselineImage(ctx, settings.igBaseline, { rows: 4, cols: 4 });
  let r;
  try {
    r = new IntegratedGradients(ctx.model, { steps: settings.igSteps, batch: settings.batch }).explain(ctx.input, baseline, ctx.classIndex);
  } finally {
    baseline.dispose();
  }
  const relativeGap = Math.abs(r.completenessGap) / Math.max(Math.abs(r.scoreInput - r.scoreBaseline), 1e-9);
  const gap = `completeness gap ${(100 * relativeGap).toPrecision(2)}%`;
  return {
    ...(await pixelOutput('ig', IntegratedGradients.title, ctx, r.pixelMap, `Integrated Gradients, ${settings.igSteps} steps from ${settings.igBaseline}, ${gap}`,
      `F(x) = ${r.scoreInput.toFixed(2)}, F(baseline) = ${r.scoreBaseline.toFixed(2)}, sum = ${(r.scoreInput - r.scoreBaseline + r.completenessGap).toFixed(2)}`,
      { scoreInput: r.scoreInput, scoreBaseline: r.scoreBaseline, completenessGap: r.completenessGap, igSteps: settings.igSteps, igBaseline: settings.igBaseline })),
    forwardPasses: r.evaluations,
    note: `${gap} of |F(x) - F(baseline)|`,
  };
}

const INTEGRATED_GRADIENTS_ENTRY: ExplainerEntry = {
  name: 'ig',
  title: IntegratedGradients.title,
  description: 'Integrated Gradients: gradients of the class logit along the path from a baseline image (Sundararajan et al. 2017)',
  kind: 'pixels',
  explainByDefault: false,
  options: INTEGRATED_GRADIENTS_OPTIONS,
  settingsSummary: (s) => ({ igSteps: s.igSteps, igBaseline: s.igBaseline, batch: s.batch }),
  explain: explainIntegratedGradients,
};

const GRADIENT_X_INPUT_ENTRY: ExplainerEntry = {
  name: 'gradinput',
  title: GradientTimesInput.title,
  description: 'Gradient x Input: each input value times the gradient of the class logit (Shrikumar et al. 2016)',
  kind: 'pixels',
  explainByDefault: false,
  options: NO_OPTIONS,
  settingsSummary: () => ({}),
  explain: async (ctx) => {
    const r = new GradientTimesInput(ctx.model).explain(ctx.input, ctx.classIndex);
    return pixelOutput('gradinput', GradientTimesInput.title, ctx, r.pixelMap, 'Gradient x Input (summed over channels)', `y = ${r.score.toFixed(2)}`, { score: r.score });
  },
};

const SHAPLEY_ENTRY: ExplainerEntry = {
  name: 'shap',
  title: 'patch Shapley',
  description: 'Shapley values of image patches for the class log-odds (permutation sampling)',
  kind: 'patches',
  explainByDefault: true,
  options: SHAPLEY_OPTIONS,
  settingsSummary: (s) => ({ grid: `${s.grid.rows}x${s.grid.cols}`, baseline: s.baseline, samples: s.samples, batch: s.batch, exact: s.exact, seed: s.seed }),
  explain: explainShapley,
};

/**
 * A non-negative per-pixel map (saliency, RISE) as a method's output: a heat map over the image,
 * its colours spanning the map's min .. max (RISE's values all lie near the class probability), and
 * `<name>.<model>.<suffix>.csv` (one row per pixel row, raw values).
 * @param pixelMap [H * W] attribution per pixel of the display image, >= 0
 */
async function heatmapOutput(suffix: string, title: string, ctx: ImageContext, pixelMap: Float32Array, caption: string, subtitle: string, barLabel: string, summary: Record<string, unknown>): Promise<MethodOutput> {
  const { width, height } = ctx.display;
  const lo = pixelMap.reduce((m, v) => Math.min(m, v), Infinity);
  const hi = pixelMap.reduce((m, v) => Math.max(m, v), -Infinity);
  // On the original: the per-input-pixel values resampled as pixelOutput does (--overlay full).
  const valuesOn = (c: Canvas) => (c.isInput ? pixelMap : mapOnImage(pixelMap, width, height, c.window, c.image));
  const canvas = await overlayCanvas(ctx);
  const map = valuesOn(canvas);
  const panel: Panel = {
    image: camOverlay(canvas.image, map.map((v) => (hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 0))),
    caption,
    colourBar: { kind: 'turbo', min: lo, max: hi, label: barLabel },
    window: panelWindow(canvas),
  };
  return {
    pixelMap,
    panel,
    summary: { ...summary, overlaySize: `${canvas.image.width}x${canvas.image.height}` },
    write: (outDir) => writePixelMap(outDir, ctx, suffix, title, subtitle, panel, pixelMap, `${title}: ${barLabel} per input pixel, bilinear from ${width}x${height}`, valuesOn, { canvas, map }),
  };
}

const SALIENCY_ENTRY: ExplainerEntry = {
  name: 'saliency',
  title: Saliency.title,
  description: 'Saliency: |gradient of the class logit|, largest over the channels (Simonyan et al. 2014)',
  kind: 'pixels',
  explainByDefault: false,
  options: NO_OPTIONS,
  settingsSummary: () => ({}),
  explain: async (ctx) => {
    const r = new Saliency(ctx.model).explain(ctx.input, ctx.classIndex);
    return await heatmapOutput('saliency', Saliency.title, ctx, r.pixelMap, 'Saliency: max over channels of |dy/dx|', `y = ${r.score.toFixed(2)}`, '|d logit / d pixel|', { score: r.score });
  },
};

/** SmoothGrad as a registry entry: the noise is drawn from the stream deriveSeed(seed, 'smoothgrad'). */
async function explainSmoothGrad(ctx: ImageContext, settings: ExplainSettings): Promise<MethodOutput> {
  const { smoothBase: base, smoothSamples: samples, noise } = settings;
  const normals = standardNormals(deriveSeed(settings.seed, 'smoothgrad'), samples * ctx.input.size);
  const baseline = base === 'ig' ? baselineImage(ctx, settings.igBaseline, { rows: 4, cols: 4 }) : undefined;
  let r;
  try {
    r = new SmoothGrad(ctx.model, { base, noise, batch: settings.batch, igSteps: settings.igSteps }).explain(ctx.input, ctx.classIndex, normals, baseline);
  } finally {
    baseline?.dispose();
  }
  const caption = `SmoothGrad of ${base === 'ig' ? `Integrated Gradients (${settings.igSteps} steps from ${settings.igBaseline})` : base === 'gradinput' ? 'Gradient x Input' : 'the gradient'}, ${samples} samples, noise ${noise}`;
  const subtitle = `sigma = ${r.sigma.toPrecision(3)} (noise x input range)`;
  const summary = { smoothBase: base, smoothSamples: samples, noise, sigma: r.sigma };
  const out = base === 'saliency'
    ? await heatmapOutput('smoothgrad', SmoothGrad.title, ctx, r.pixelMap, caption, subtitle, 'mean dy/dx: max |.| over channels', summary)
    : await pixelOutput('smoothgrad', SmoothGrad.title, ctx, r.pixelMap, caption, subtitle, summary);
  return { ...out, forwardPasses: r.evaluations };
}

const SMOOTHGRAD_ENTRY: ExplainerEntry = {
  name: 'smoothgrad',
  title: SmoothGrad.title,
  description: 'SmoothGrad: a gradient attribution (--smooth-base) averaged over noisy copies of the input (Smilkov et al. 2017)',
  kind: 'pixels',
  explainByDefault: false,
  options: SMOOTHGRAD_OPTIONS,
  settingsSummary: (s) => ({ smoothBase: s.smoothBase, smoothSamples: s.smoothSamples, noise: s.noise, batch: s.batch, seed: s.seed, ...(s.smoothBase === 'ig' ? { igSteps: s.igSteps, igBaseline: s.igBaseline } : {}) }),
  explain: explainSmoothGrad,
};

const RISE_ENTRY: ExplainerEntry = {
  name: 'rise',
  title: Rise.title,
  description: 'RISE: random masks weighted by the class probability of the masked input (Petsiuk et al. 2018)',
  kind: 'pixels',
  explainByDefault: false,
  options: RISE_OPTIONS,
  settingsSummary: (s) => ({ masks: s.masks, riseGrid: s.riseGrid, riseP: s.riseP, batch: s.batch, seed: s.seed }),
  explain: async (ctx, settings) => {
    const r = new Rise(ctx.model, { masks: settings.masks, grid: settings.riseGrid, p: settings.riseP, batch: settings.batch }).explain(ctx.input, ctx.classIndex, deriveSeed(settings.seed, 'rise'));
    const caption = `RISE, ${settings.masks} masks on a ${settings.riseGrid}x${settings.riseGrid} grid, p = ${settings.riseP}`;
    return {
      ...(await heatmapOutput('rise', Rise.title, ctx, r.pixelMap, caption, `P(class) = ${r.probability.toPrecision(3)}`, 'saliency (class probability)', { riseProbability: r.probability })),
      forwardPasses: r.evaluations,
    };
  },
};

/** The explainers, in the order of the CLI's lists (the two defaults of `explain` first). */
export const EXPLAINERS = {
  gradcam: camEntry('gradcam', GradCam, 'gradient-weighted class activation map of a conv layer (Selvaraju et al. 2017)', true),
  shap: SHAPLEY_ENTRY,
  gradcampp: camEntry('gradcampp', GradCamPlusPlus, 'Grad-CAM++: positive gradients weighted by second-order terms (Chattopadhay et al. 2018)'),
  xgradcam: camEntry('xgradcam', XGradCam, 'XGrad-CAM: gradients averaged with the activations as weights (Fu et al. 2020)'),
  hirescam: camEntry('hirescam', HiResCam, 'HiResCAM: gradients times activations, element-wise (Draelos and Carin 2020)'),
  layercam: camEntry('layercam', LayerCam, 'LayerCAM: positive gradients times activations, element-wise (Jiang et al. 2021)'),
  eigencam: camEntry('eigencam', EigenCam, 'Eigen-CAM: first principal component of the activations, class-independent (Muhammad and Yeasin 2020)'),
  scorecam: camEntry('scorecam', ScoreCam, 'Score-CAM: channels weighted by the class score of the input masked by each (Wang et al. 2020)'),
  ablationcam: camEntry('ablationcam', AblationCam, 'Ablation-CAM: channels weighted by the score drop when each is zeroed (Ramaswamy and Desai 2020)'),
  ig: INTEGRATED_GRADIENTS_ENTRY,
  gradinput: GRADIENT_X_INPUT_ENTRY,
  saliency: SALIENCY_ENTRY,
  smoothgrad: SMOOTHGRAD_ENTRY,
  rise: RISE_ENTRY,
} satisfies Record<string, ExplainerEntry>;

export type ExplainerName = keyof typeof EXPLAINERS;
export const EXPLAINER_NAMES = Object.keys(EXPLAINERS) as ExplainerName[];
/** The CAM methods (`gradcam --method`). */
export const CAM_NAMES = EXPLAINER_NAMES.filter((n) => EXPLAINERS[n].kind === 'cam');
/** What `explain` runs without --methods. */
export const DEFAULT_EXPLAIN_METHODS = EXPLAINER_NAMES.filter((n) => EXPLAINERS[n].explainByDefault);

/** The figure with the image and each method's panel side by side, titled with class and probability. */
export async function renderSideBySide(ctx: ImageContext, outputs: readonly MethodOutput[]): Promise<Buffer> {
  const canvas = await overlayCanvas(ctx);
  const { width, height } = ctx.display;
  const window = panelWindow(canvas);
  const input: Panel = window
    ? {
      image: dimOutside(canvas.image, canvas.covered),
      caption: `input ${ctx.name} (${canvas.image.width}x${canvas.image.height}); the model sees the dashed ${Math.round(window.width)}x${Math.round(window.height)} crop at ${width}x${height}`,
      window,
    }
    : { image: canvas.image, caption: `input ${ctx.name} (${canvas.isInput ? `${width}x${height}` : `${canvas.image.width}x${canvas.image.height}, seen at ${width}x${height}`})` };
  const panels: Panel[] = [input, ...outputs.map((o) => o.panel)];
  return renderFigure(panels, `${ctx.name}: ${classText(ctx)}, p = ${pct(ctx.probability)}`, `model ${ctx.modelName}`);
}
