/**
 * The explainers' command-line options: declared (flags, help, parser), parsed, checked and
 * defaulted here and nowhere else. This is the CLI edge of the explain module: its errors name the
 * flags (`--patches 15 ...`), while the maths below it (shapley.ts, image_game.ts, the CAMs) names
 * none. Each registry entry points at one option group; the commands declare the union of the
 * groups of the methods they offer, and `resolveSettings` turns option values into settings.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type * as tf from '@tensorflow/tfjs';
import { intArg } from '../core/command.js';
import { UsageError } from '../core/errors.js';
import { findTargetLayer } from './base.js';
import { BASELINES, BASELINE_NAMES, patchIndexMap, type BaselineName, type PatchGrid } from './image_game.js';
import { MAX_EXACT_PLAYERS } from './shapley.js';
import { SMOOTH_BASES, type SmoothBaseName } from './smoothgrad.js';

/** Settings of one explain run: every method reads the fields it needs. */
export interface ExplainSettings {
  /** CAM target layer (default: the rectified output of the last conv layer). */
  layer?: string;
  /** Patch grid of the Shapley players. */
  grid: PatchGrid;
  /** What replaces absent patches. */
  baseline: BaselineName;
  /** Permutations sampled (each paired with its reverse). */
  samples: number;
  /** Inputs per forward pass (Shapley coalitions, Score-CAM masks, Ablation-CAM ablations, SmoothGrad copies, RISE masks). */
  batch: number;
  /** Enumerate all coalitions (<= 12 patches) instead of sampling. */
  exact: boolean;
  /** Seed of the permutation sampler. */
  seed: number;
  /** Integrated Gradients: intervals of the trapezoid rule along the path (steps + 1 gradients). */
  igSteps: number;
  /** Integrated Gradients: the baseline image the path starts from. */
  igBaseline: BaselineName;
  /** SmoothGrad: noisy copies of the input averaged (n in Smilkov et al. 2017). */
  smoothSamples: number;
  /** SmoothGrad: noise level sigma / (max - min of the input); 0 gives the base method. */
  noise: number;
  /** SmoothGrad: the attribution averaged over the noisy copies. */
  smoothBase: SmoothBaseName;
  /** RISE: random masks sampled (N in Petsiuk et al. 2018). */
  masks: number;
  /** RISE: the masks' coarse grid is s x s cells before upsampling. */
  riseGrid: number;
  /** RISE: probability that a grid cell is kept (p). */
  riseP: number;
  /** CAMs: average the map over horizontal flips and intensity scales 0.9, 1, 1.1 (test-time augmentation). */
  augSmooth: boolean;
  /** CAMs: replace sum_k w_k A^k by the first principal component of the weighted activations. */
  eigenSmooth: boolean;
  /** Called with (done, total) coalitions during Shapley sampling. */
  onProgress?: (done: number, total: number) => void;
}

/** The defaults of `gradcam`, `shap` and `explain` (explain-eval overrides some: eval.ts). */
export const DEFAULT_EXPLAIN_SETTINGS: ExplainSettings = {
  grid: { rows: 4, cols: 4 },
  baseline: 'mean',
  samples: 32,
  batch: 16,
  exact: false,
  seed: 42,
  igSteps: 64,
  igBaseline: 'zero',
  smoothSamples: 16,
  noise: 0.15,
  smoothBase: 'saliency',
  masks: 1000,
  riseGrid: 7,
  riseP: 0.5,
  augSmooth: false,
  eigenSmooth: false,
};

/** Option values as commander gives them (camelCase; undefined when not given). */
export interface ExplainOptionValues {
  layer?: string;
  /** Number of patches (a perfect square). */
  patches?: number;
  /** Patch grid RxC (instead of --patches). */
  grid?: string;
  baseline?: string;
  samples?: number;
  batch?: number;
  exact?: boolean;
  igSteps?: number;
  igBaseline?: string;
  smoothSamples?: number;
  noise?: number;
  smoothBase?: string;
  masks?: number;
  riseGrid?: number;
  riseP?: number;
  augSmooth?: boolean;
  eigenSmooth?: boolean;
}


/** One command-line option. */
export interface OptionSpec {
  /** Commander flags, e.g. '--patches <k>'. */
  flags: string;
  /** The help line, given the command's defaults. */
  help(defaults: ExplainSettings): string;
  /** Parser of the value (rejects impossible values with a usage error). */
  parse?: (value: string) => unknown;
  /** The allowed values, if a fixed list. */
  choices?: readonly string[];
}

/** The options of a family of methods, and what to do with them. */
export interface OptionGroup {
  readonly options: readonly OptionSpec[];
  /** Parses, checks and defaults the group's option values (UsageError naming the flag). */
  resolve(values: ExplainOptionValues, defaults: ExplainSettings): Partial<ExplainSettings>;
  /**
   * Checks the settings against the model before any slow work: its input [h, w, c], and, when
   * given, the model itself (layer names). UsageError naming the flag.
   */
  check(settings: ExplainSettings, inputShape: readonly number[], model?: tf.LayersModel): void;
  /** Whether `check` needs the model's architecture, not just its input shape. */
  needsArchitecture(settings: ExplainSettings): boolean;
  /** The smallest image the settings allow (rows x cols pixels), if any. */
  minImageSize(settings: ExplainSettings): PatchGrid | undefined;
}

/** Inputs per forward pass: shared by the Shapley and CAM groups (declared once per command). */
const BATCH_OPTION: OptionSpec = {
  flags: '--batch <n>',
  help: (d) => `inputs per forward pass: Shapley coalitions, Score-CAM masks, Ablation-CAM ablations, SmoothGrad copies, RISE masks (default ${d.batch})`,
  parse: intArg('--batch', 1, 4096),
};

/**
 * Parses `--patches K` (a perfect square: a sqrt(K) x sqrt(K) grid) or `--grid RxC`; neither gives
 * `fallback` (the command's default grid).
 */
export function parseGrid(patches: number | undefined, grid: string | undefined, fallback: PatchGrid = DEFAULT_EXPLAIN_SETTINGS.grid): PatchGrid {
  if (grid !== undefined) {
    const m = /^\s*(\d+)\s*[xX*]\s*(\d+)\s*$/.exec(grid);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new UsageError(`--grid must look like RxC (e.g. 3x5), got '${grid}'`);
    if (patches !== undefined && patches !== Number(m[1]) * Number(m[2])) {
      throw new UsageError(`--patches ${patches} disagrees with --grid ${grid} (${Number(m[1]) * Number(m[2])} patches); give one of them`);
    }
    return { rows: Number(m[1]), cols: Number(m[2]) };
  }
  if (patches === undefined) return { ...fallback };
  const side = Math.round(Math.sqrt(patches));
  if (!Number.isInteger(patches) || patches < 1 || side * side !== patches) {
    const lo = Math.floor(Math.sqrt(patches)) ** 2;
    const hi = Math.ceil(Math.sqrt(patches)) ** 2;
    throw new UsageError(`--patches must be a perfect square (a k x k grid), got ${patches}; use ${lo > 0 ? `${lo} or ` : ''}${hi}, or --grid RxC for other shapes`);
  }
  return { rows: side, cols: side };
}

/** --patches, --grid, --baseline, --samples, --batch, --exact: patch Shapley values. */
export const SHAPLEY_OPTIONS: OptionGroup = {
  options: [
    { flags: '--patches <k>', help: (d) => `number of patches, a perfect square: a sqrt(k) x sqrt(k) grid (default ${d.grid.rows * d.grid.cols})`, parse: intArg('--patches', 1, 4096) },
    { flags: '--grid <RxC>', help: () => 'patch grid rows x columns, for non-square grids (e.g. 3x4)' },
    { flags: '--baseline <name>', help: (d) => `what replaces absent patches: ${BASELINE_NAMES.map((b) => `${b} = ${BASELINES[b]}`).join('; ')} (default ${d.baseline})`, choices: BASELINE_NAMES },
    { flags: '--samples <n>', help: (d) => `permutations sampled, rounded up to even: each is paired with its reverse (default ${d.samples})`, parse: intArg('--samples', 2, 1_000_000) },
    BATCH_OPTION,
    { flags: '--exact', help: () => `enumerate all 2^n coalitions (at most ${MAX_EXACT_PLAYERS} patches) instead of sampling` },
  ],
  resolve(values, defaults) {
    const grid = parseGrid(values.patches, values.grid, defaults.grid);
    const baseline = (values.baseline ?? defaults.baseline) as BaselineName;
    if (!(BASELINE_NAMES as string[]).includes(baseline)) throw new UsageError(`--baseline ${baseline}: use one of ${BASELINE_NAMES.join(', ')}`);
    const exact = values.exact ?? defaults.exact;
    if (exact && grid.rows * grid.cols > MAX_EXACT_PLAYERS) {
      throw new UsageError(`--exact enumerates all coalitions and allows at most ${MAX_EXACT_PLAYERS} patches, got ${grid.rows * grid.cols}; drop --exact or use a smaller grid (e.g. --grid 3x4)`);
    }
    return { grid, baseline, exact, samples: values.samples ?? defaults.samples };
  },
  check(settings, inputShape) {
    patchIndexMap(settings.grid, inputShape[0], inputShape[1]); // the grid must fit the model input
  },
  needsArchitecture: () => false,
  minImageSize: (settings) => settings.grid,
};

/** --layer, --batch: class activation maps. */
export const CAM_OPTIONS: OptionGroup = {
  options: [
    { flags: '--layer <name>', help: () => 'CAM target layer (default: the rectified output of the last conv layer; an unknown name lists the choices)' },
    BATCH_OPTION,
    { flags: '--aug-smooth', help: () => 'CAMs: average the map over 6 test-time augmentations (horizontal flip x input scaled by 0.9, 1, 1.1), each mapped back (6x the time)' },
    { flags: '--eigen-smooth', help: () => 'CAMs: the map is the first principal component of the weighted activations w_k A^k instead of their sum (less noise)' },
  ],
  resolve: (values, defaults) => ({ layer: values.layer, augSmooth: values.augSmooth ?? defaults.augSmooth, eigenSmooth: values.eigenSmooth ?? defaults.eigenSmooth }),
  check(settings, _inputShape, model) {
    if (model) findTargetLayer(model, settings.layer);
  },
  needsArchitecture: (settings) => settings.layer !== undefined,
  minImageSize: () => undefined,
};

/** --ig-steps, --ig-baseline, --batch: Integrated Gradients. */
export const INTEGRATED_GRADIENTS_OPTIONS: OptionGroup = {
  options: [
    { flags: '--ig-steps <n>', help: (d) => `Integrated Gradients: trapezoid intervals along the path from the baseline (default ${d.igSteps})`, parse: intArg('--ig-steps', 1, 100_000) },
    { flags: '--ig-baseline <name>', help: (d) => `Integrated Gradients: the path's start: zero = black, mean = the mean colour, blur = a Gaussian blur (sigma = 1/8 of the image) (default ${d.igBaseline})`, choices: BASELINE_NAMES },
    BATCH_OPTION,
  ],
  resolve(values, defaults) {
    const igBaseline = (values.igBaseline ?? defaults.igBaseline) as BaselineName;
    if (!(BASELINE_NAMES as string[]).includes(igBaseline)) throw new UsageError(`--ig-baseline ${igBaseline}: use one of ${BASELINE_NAMES.join(', ')}`);
    return { igSteps: values.igSteps ?? defaults.igSteps, igBaseline };
  },
  check: () => undefined,
  needsArchitecture: () => false,
  minImageSize: () => undefined,
};

/** A number parser: finite, in [lo, hi] (a usage error naming the flag otherwise, as intArg). */
function numberArg(flag: string, lo: number, hi: number, what: string): (value: string) => number {
  return (value: string) => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isFinite(v) || v < lo || v > hi) throw new InvalidArgumentError(`${flag} must be ${what}, got '${value}'`);
    return v;
  };
}

/** --smooth-samples, --noise, --smooth-base, --batch (and the IG options for --smooth-base ig): SmoothGrad. */
export const SMOOTHGRAD_OPTIONS: OptionGroup = {
  options: [
    { flags: '--smooth-samples <n>', help: (d) => `SmoothGrad: noisy copies of the input averaged (default ${d.smoothSamples})`, parse: intArg('--smooth-samples', 1, 100_000) },
    { flags: '--noise <level>', help: (d) => `SmoothGrad: noise sigma as a fraction of the input's range (max - min), 0 = the base method alone (default ${d.noise})`, parse: numberArg('--noise', 0, 10, 'a number from 0 to 10 (a fraction of the input range, e.g. 0.15)') },
    { flags: '--smooth-base <name>', help: (d) => `SmoothGrad: the attribution averaged: saliency = the gradient, gradinput = gradient x input, ig = Integrated Gradients (default ${d.smoothBase})`, choices: SMOOTH_BASES },
    ...INTEGRATED_GRADIENTS_OPTIONS.options,
  ],
  resolve(values, defaults) {
    const smoothBase = (values.smoothBase ?? defaults.smoothBase) as SmoothBaseName;
    if (!(SMOOTH_BASES as readonly string[]).includes(smoothBase)) throw new UsageError(`--smooth-base ${smoothBase}: use one of ${SMOOTH_BASES.join(', ')}`);
    const noise = values.noise ?? defaults.noise;
    if (!Number.isFinite(noise) || noise < 0) throw new UsageError(`--noise must be a number >= 0 (a fraction of the input range), got ${noise}`);
    return { ...INTEGRATED_GRADIENTS_OPTIONS.resolve(values, defaults), smoothSamples: values.smoothSamples ?? defaults.smoothSamples, noise, smoothBase };
  },
  check: () => undefined,
  needsArchitecture: () => false,
  minImageSize: () => undefined,
};

/** --masks, --rise-grid, --rise-p, --batch: RISE. */
export const RISE_OPTIONS: OptionGroup = {
  options: [
    { flags: '--masks <n>', help: (d) => `RISE: random masks sampled, one forward pass each (default ${d.masks})`, parse: intArg('--masks', 1, 1_000_000) },
    { flags: '--rise-grid <s>', help: (d) => `RISE: the masks' coarse grid is s x s cells, upsampled to the image (default ${d.riseGrid})`, parse: intArg('--rise-grid', 1, 1024) },
    { flags: '--rise-p <p>', help: (d) => `RISE: probability that a grid cell is kept (default ${d.riseP})`, parse: numberArg('--rise-p', 0, 1, 'a probability in (0, 1], e.g. 0.5') },
    BATCH_OPTION,
  ],
  resolve(values, defaults) {
    const riseP = values.riseP ?? defaults.riseP;
    if (!(riseP > 0 && riseP <= 1)) throw new UsageError(`--rise-p must be a probability in (0, 1] (the saliency divides by it), got ${riseP}`);
    return { masks: values.masks ?? defaults.masks, riseGrid: values.riseGrid ?? defaults.riseGrid, riseP };
  },
  check(settings, inputShape) {
    const side = Math.min(inputShape[0], inputShape[1]);
    if (settings.riseGrid > side) throw new UsageError(`--rise-grid ${settings.riseGrid} is finer than the ${inputShape[0]}x${inputShape[1]} model input; use at most ${side} (the paper uses 7 for 224x224)`);
  },
  needsArchitecture: () => false,
  minImageSize: (settings) => ({ rows: settings.riseGrid, cols: settings.riseGrid }),
};

/** No options of its own (Gradient x Input). */
export const NO_OPTIONS: OptionGroup = {
  options: [],
  resolve: () => ({}),
  check: () => undefined,
  needsArchitecture: () => false,
  minImageSize: () => undefined,
};

/** Declares the options of the groups on a command, each flag once, with help from `defaults`. */
export function declareOptions(cmd: Command, groups: readonly OptionGroup[], defaults: ExplainSettings = DEFAULT_EXPLAIN_SETTINGS): Command {
  const seen = new Set<string>();
  for (const spec of groups.flatMap((g) => g.options)) {
    if (seen.has(spec.flags)) continue;
    seen.add(spec.flags);
    const option = new Option(spec.flags, spec.help(defaults));
    if (spec.choices) option.choices(spec.choices);
    else if (spec.parse) option.argParser(spec.parse);
    cmd.addOption(option);
  }
  return cmd;
}

/** Settings from option values: `defaults`, then each group's parsed and checked values. */
export function resolveSettings(values: ExplainOptionValues & { seed?: number }, groups: readonly OptionGroup[], defaults: ExplainSettings = DEFAULT_EXPLAIN_SETTINGS): ExplainSettings {
  let settings: ExplainSettings = { ...defaults, batch: values.batch ?? defaults.batch, seed: values.seed ?? defaults.seed };
  for (const group of new Set(groups)) settings = { ...settings, ...group.resolve(values, defaults) };
  return settings;
}
