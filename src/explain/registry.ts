/**
 * The single registry of explainers: name -> method. The commands' choices (`explain --methods`),
 * the help text, the output file suffixes and the faithfulness evaluation all derive from it
 * (STYLE lesson 1: pytorch-grad-cam keeps its method list twice and they drift).
 *
 * Each entry computes its explanation of one prepared image (maths in grad_cam.ts /
 * patch_shapley.ts), turns it into a pixel attribution map (for deletion/insertion curves),
 * a figure panel (render.ts) and its files.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { RgbImage } from '../core/image.js';
import { writeFileAtomic } from '../core/fsutil.js';
import { writeCsv } from '../core/csv.js';
import { GradCam } from './grad_cam.js';
import { upsampleBilinear, type CamResult } from './base.js';
import {
  PatchShapley, makeBaseline, patchIndexMap, fitPixelMap,
  type BaselineName, type PatchGrid, type ShapleyResult,
} from './patch_shapley.js';
import { camOverlay, renderFigure, shapleyCellText, shapleyOverlay, shapleyRange, type Panel } from './render.js';

/** Settings of one explain run; defaults in DEFAULT_EXPLAIN_SETTINGS. */
export interface ExplainSettings {
  /** Grad-CAM target layer (default: the rectified output of the last conv layer). */
  layer?: string;
  /** Patch grid of the Shapley players. */
  grid: PatchGrid;
  /** What replaces absent patches. */
  baseline: BaselineName;
  /** Permutations sampled (each paired with its reverse). */
  samples: number;
  /** Images per forward pass. */
  batch: number;
  /** Enumerate all coalitions (<= 12 patches) instead of sampling. */
  exact: boolean;
  /** Seed of the permutation sampler. */
  seed: number;
  /** Called with (done, total) coalitions during Shapley sampling. */
  onProgress?: (done: number, total: number) => void;
}

export const DEFAULT_EXPLAIN_SETTINGS: ExplainSettings = {
  grid: { rows: 4, cols: 4 },
  baseline: 'mean',
  samples: 32,
  batch: 16,
  exact: false,
  seed: 42,
};

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
  /** Writes the method's files (`<name>.<model>.<suffix>.png/.csv`); returns the JSON path fields. */
  write(outDir: string): Promise<Record<string, string>>;
}

export interface ExplainerEntry {
  /** Display name. */
  title: string;
  /** One line for --help. */
  description: string;
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

/** Grad-CAM as a registry entry. */
async function explainGradCam(ctx: ImageContext, settings: ExplainSettings): Promise<MethodOutput> {
  const cam = new GradCam(ctx.model, { layer: settings.layer });
  const [r]: CamResult[] = cam.compute(ctx.input, [ctx.classIndex]);
  const { width, height } = ctx.display;
  const pixelMap = upsampleBilinear(r.cam, r.camHeight, r.camWidth, height, width);
  const panel: Panel = {
    image: camOverlay(ctx.display, pixelMap),
    caption: `Grad-CAM at layer '${r.layer}' (${r.camHeight}x${r.camWidth})${r.rawMax === 0 ? ' - no positive evidence' : ''}`,
    colourBar: { kind: 'turbo', min: 0, max: 1, label: 'Grad-CAM (scaled to max)' },
  };
  return {
    pixelMap,
    panel,
    summary: { layer: r.layer, camHeight: r.camHeight, camWidth: r.camWidth, camRawMax: r.rawMax },
    async write(outDir) {
      const base = fileBase(outDir, ctx, 'gradcam');
      const rows: number[][] = [];
      for (let y = 0; y < r.camHeight; y++) rows.push(Array.from(r.cam.slice(y * r.camWidth, (y + 1) * r.camWidth)));
      await writeCsv(`${base}.csv`, Array.from({ length: r.camWidth }, (_, x) => `x${x}`), rows);
      const png = await renderFigure([panel], `Grad-CAM: ${classText(ctx)}, p = ${pct(ctx.probability)}`, `${ctx.name}, model ${ctx.modelName}`);
      await writeFileAtomic(`${base}.png`, png);
      return { camCsv: `${base}.csv`, overlayPng: `${base}.png` };
    },
  };
}

/** Patch Shapley as a registry entry. */
async function explainShapley(ctx: ImageContext, settings: ExplainSettings): Promise<MethodOutput> {
  const [, h, w, ch] = ctx.input.shape;
  const zero = settings.baseline === 'zero' ? fitPixelMap(ctx.input.dataSync() as Float32Array, ctx.display.data, ch)?.offset : undefined;
  const baseline = makeBaseline(ctx.input, settings.baseline, settings.grid, zero);
  let r: ShapleyResult;
  try {
    r = await new PatchShapley(ctx.model, settings.grid, settings).explain(ctx.input, baseline, ctx.classIndex);
  } finally {
    baseline.dispose();
  }
  const grid = settings.grid;
  const patchOfPixel = patchIndexMap(grid, ctx.display.height, ctx.display.width);
  const inputPatches = patchIndexMap(grid, h, w);
  const pixelMap = Float32Array.from(inputPatches, (p) => r.phi[p]);
  const maxAbs = shapleyRange(r.phi);
  const how = r.method === 'exact' ? 'exact' : `${r.permutations} permutations`;
  const panel: Panel = {
    image: shapleyOverlay(ctx.display, r.phi, patchOfPixel, maxAbs),
    caption: `patch Shapley, ${grid.rows}x${grid.cols} patches, ${how}, baseline ${settings.baseline}`,
    colourBar: { kind: 'diverging', min: -maxAbs, max: maxAbs, label: 'phi: contribution to class log-odds' },
    grid,
    cellText: shapleyCellText(r.phi, grid),
  };
  return {
    pixelMap,
    panel,
    summary: {
      phi: r.phi, se: r.se, vFull: r.vFull, vEmpty: r.vEmpty, efficiencyGap: r.efficiencyGap,
      evaluations: r.evaluations, permutations: r.permutations, method: r.method, grid: `${grid.rows}x${grid.cols}`, baseline: settings.baseline,
    },
    async write(outDir) {
      const base = fileBase(outDir, ctx, 'shap');
      const rows = r.phi.map((phi, i) => [i, Math.floor(i / grid.cols), i % grid.cols, phi, r.se[i], r.ciLow[i], r.ciHigh[i]]);
      await writeCsv(`${base}.csv`, ['patch', 'row', 'col', 'phi', 'se', 'ci_low', 'ci_high'], rows);
      const sub = `${ctx.name}, model ${ctx.modelName}; v(N) = ${r.vFull.toFixed(2)}, v(empty) = ${r.vEmpty.toFixed(2)}, sum phi = ${r.phi.reduce((a, b) => a + b, 0).toFixed(2)}`;
      const png = await renderFigure([panel], `patch Shapley: ${classText(ctx)}, p = ${pct(ctx.probability)}`, sub);
      await writeFileAtomic(`${base}.png`, png);
      return { csv: `${base}.csv`, png: `${base}.png` };
    },
  };
}

export const EXPLAINERS = {
  gradcam: {
    title: 'Grad-CAM',
    description: 'gradient-weighted class activation map of a conv layer (Selvaraju et al. 2017)',
    explain: explainGradCam,
  },
  shap: {
    title: 'patch Shapley',
    description: 'Shapley values of image patches for the class log-odds (permutation sampling)',
    explain: explainShapley,
  },
} satisfies Record<string, ExplainerEntry>;

export type ExplainerName = keyof typeof EXPLAINERS;
export const EXPLAINER_NAMES = Object.keys(EXPLAINERS) as ExplainerName[];

/** The figure with the image and each method's panel side by side, titled with class and probability. */
export async function renderSideBySide(ctx: ImageContext, outputs: readonly MethodOutput[]): Promise<Buffer> {
  const panels: Panel[] = [{ image: ctx.display, caption: `input ${ctx.name} (${ctx.display.width}x${ctx.display.height})` }, ...outputs.map((o) => o.panel)];
  return renderFigure(panels, `${ctx.name}: ${classText(ctx)}, p = ${pct(ctx.probability)}`, `model ${ctx.modelName}`);
}
