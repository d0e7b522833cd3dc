/**
 * dnnkit as a library (issue 14, item 7): `import { trainMnist, gradCam, ... } from 'dnnkit'`.
 * Each function is the command of the same name without the command line: typed options (the
 * CLI's options in camelCase; those left out take the CLI's defaults), and the result is the same
 * object `--json` prints. Nothing is printed (pass `log: true` for the CLI's progress and log lines
 * on stderr) and nothing calls process.exit: errors are thrown (UsageError / InputError for bad
 * input, with a one-line message). Commands that write files write them to `out` with a run.json.
 *
 * @example
 *   import { trainMnist, gradCam } from 'dnnkit';
 *   const run = await trainMnist({ out: 'runs/mnist', epochs: 1, limit: 5000 });
 *   console.log(run.testAccuracy);
 *   await gradCam({ out: 'runs/cam', model: 'runs/mnist', images: ['digit.png'] });
 */
import * as path from 'node:path';
import { executeRun, resolvePackageDefaults, type CommonOptions } from './core/command.js';
import { dataPath } from './core/command.js';
import { runTrainMnist } from './mnist/train.js';
import { TRAIN_MNIST_DEFAULTS, type TrainMnistOptions, type TrainMnistSummary } from './mnist/options.js';
import { runExplainers, DEFAULT_MODEL, type ExplainOptions, type ExplainRunResult } from './explain/run.js';
import { DEFAULT_EVAL_OPTIONS, runExplainEval, type ExplainEvalOptions, type ExplainEvalResult } from './explain/eval.js';
import { runSanity, type SanityOptions, type SanityResult } from './explain/sanity.js';
import { runSst2 } from './sst2/train.js';
import { SST2_DEFAULTS, type Sst2RunOptions, type Sst2Summary } from './sst2/options.js';
import { runSst2Predict, type Prediction as SentencePrediction } from './sst2/predict.js';
import { runProject, type ProjectRunOptions, type ProjectSummary } from './project/command.js';
import { TSNE_DEFAULTS } from './project/tsne.js';
import { resolveModel, type LoadedModel } from './models/index.js';
import { UsageError } from './core/errors.js';
import { buildProgram } from './cli.js';

export { UsageError, InputError } from './core/errors.js';
export { initBackend, type BackendInfo, type BackendName } from './core/backend.js';
export { parseClassSelection, resolveClassName, selectedClasses, type ClassSelection } from './models/classes.js';
export { MODEL_NAMES, type ModelName } from './models/registry.js';
export { dataPath };
export type { LoadedModel, TrainMnistSummary, Sst2Summary, SentencePrediction, ProjectSummary, ExplainEvalResult, SanityResult };
export type { RunRecord } from './core/run_record.js';
export type { ExplainRunResult, ExplainImageEntry } from './explain/run.js';
export { mergeShards, type MergeResult } from './core/merge.js';

/** Options every library call accepts. */
export interface LibraryOptions {
  /** Output folder (required by the commands that write files). */
  out: string;
  /** Seed of every random choice (default 42). */
  seed?: number;
  /** tfjs backend (default: the best available). */
  backend?: CommonOptions['backend'];
  /** Compute threads (oneDNN's with the native addon, else wasm's); default as the CLI command's (see defaultThreads). */
  threads?: number;
  /** Print the CLI's progress and log lines on stderr (default false: silent). */
  log?: boolean;
}

/** The CommonOptions of a library call: silent unless `log`, seed 42. */
function common(o: LibraryOptions): CommonOptions {
  return { out: o.out, seed: o.seed ?? 42, backend: o.backend, threads: o.threads, json: o.log !== true, quiet: o.log !== true, debug: false };
}

/** Runs like the CLI's action (checks, run, run.json), without printing; returns the --json summary. */
async function call<O extends object, R>(command: string, run: (opts: O, args: string[]) => Promise<object | void>, opts: O, args: string[] = []): Promise<R> {
  const summary = await executeRun(command, run as (o: Partial<CommonOptions>, a: string[]) => Promise<object | void>, opts as Partial<CommonOptions>, args, []);
  return summary as R;
}

/**
 * Checks library options with the CLI's own parsers and choices (the command `names` of the
 * program): `trainMnist({ epochs: 0 })` is refused as `--epochs 0` is. Options the command does
 * not have are left to the run.
 */
function checkOptions(fn: string, names: string[], given: object): void {
  let cmd = buildProgram();
  for (const n of names) cmd = cmd.commands.find((c) => c.name() === n)!;
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined || typeof value === 'boolean' || typeof value === 'object') continue;
    const opt = cmd.options.find((o) => o.attributeName() === key && !o.negate && (o.required || o.optional));
    if (!opt) continue;
    const text = String(value);
    if (opt.argChoices && !opt.argChoices.includes(text)) {
      throw new UsageError(`${fn}: ${key} ${JSON.stringify(value)} is not one of ${opt.argChoices.join(', ')}`);
    }
    const parse = (opt as unknown as { parseArg?: (v: string, prev: unknown) => unknown }).parseArg;
    if (parse) {
      try {
        parse(text, undefined);
      } catch (err) {
        throw new UsageError(`${fn}: ${key} ${JSON.stringify(value)}: ${(err as Error).message}`);
      }
    }
  }
}

/** Drops the keys whose value is undefined (so that defaults are not overwritten by them). */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export type TrainMnistLibraryOptions = LibraryOptions & Partial<Omit<TrainMnistOptions, keyof CommonOptions | 'givenOptions'>>;

/** Trains the MNIST CNN (train-mnist) and evaluates it on the test digits; writes the model and figures to `out`. */
export async function trainMnist(options: TrainMnistLibraryOptions): Promise<TrainMnistSummary> {
  const { out: _o, seed: _s, backend: _b, threads: _t, log: _l, ...own } = options;
  checkOptions('trainMnist', ['train-mnist'], options);
  const opts: TrainMnistOptions = { ...TRAIN_MNIST_DEFAULTS, embedPlot: 'none', ...defined(own), ...common(options) };
  return call('trainMnist', runTrainMnist as (o: TrainMnistOptions) => Promise<object>, opts);
}

/** Loads a model: resnet18 | vgg16 (from the cache, pulled on first use), a name from `models convert --name`, or a tfjs model folder / model.json. */
export async function loadModel(spec: string, options: { home?: string; log?: boolean } = {}): Promise<LoadedModel> {
  return resolveModel(spec, { home: options.home, quiet: options.log !== true });
}

export type ExplainLibraryOptions = LibraryOptions & Partial<Omit<ExplainOptions, keyof CommonOptions | 'methods'>> & {
  /** Image files (default: the sample photos in the package's data/images). */
  images?: string[];
};

function explainOptions(fn: string, command: string, options: ExplainLibraryOptions): ExplainOptions {
  checkOptions(fn, [command], options);
  const { out: _o, seed: _s, backend: _b, threads: _t, log: _l, images: _i, ...own } = options;
  return { model: DEFAULT_MODEL, ...defined(own), ...common(options) } as ExplainOptions;
}

/** CAM maps of `images` (gradcam; `method`: gradcam by default, or any CAM of the registry): overlays and CSV maps in `out`; the summary of each image's class and files. */
export async function gradCam(options: ExplainLibraryOptions): Promise<ExplainRunResult> {
  return call('gradCam', (o: ExplainOptions, a) => runExplainers([o.method ?? 'gradcam'], o, a, 'separate'), explainOptions('gradCam', 'gradcam', options), options.images ?? []);
}

/** Patch Shapley values of `images` (shap): maps and CSVs in `out`; the summary of each image's class, values and files. */
export async function patchShapley(options: ExplainLibraryOptions): Promise<ExplainRunResult> {
  return call('patchShapley', (o: ExplainOptions, a) => runExplainers(['shap'], o, a, 'separate'), explainOptions('patchShapley', 'shap', options), options.images ?? []);
}

export type ExplainEvalLibraryOptions = LibraryOptions & Partial<Omit<ExplainEvalOptions, keyof CommonOptions>> & { model: string };

/** Deletion/insertion faithfulness of the explainers on MNIST test digits (explain-eval). */
export async function explainEval(options: ExplainEvalLibraryOptions): Promise<ExplainEvalResult> {
  const { out: _o, seed: _s, backend: _b, threads: _t, log: _l, ...own } = options;
  checkOptions('explainEval', ['explain-eval'], options);
  const opts = { ...DEFAULT_EVAL_OPTIONS, ...defined(own), ...common(options) } as ExplainEvalOptions;
  return call('explainEval', (o: ExplainEvalOptions) => runExplainEval(o), opts);
}

export type ExplainSanityLibraryOptions = LibraryOptions & Partial<Omit<SanityOptions, keyof CommonOptions>> & {
  model: string;
  /** Image files (default: MNIST test digits for a 28x28x1 model, else the sample photos). */
  imageFiles?: string[];
};

/** The model-parameter randomisation sanity check of the explainers (explain-eval --sanity, docs/SANITY.md). */
export async function explainSanity(options: ExplainSanityLibraryOptions): Promise<SanityResult> {
  const { out: _o, seed: _s, backend: _b, threads: _t, log: _l, imageFiles, ...own } = options;
  checkOptions('explainSanity', ['explain-eval'], own);
  const opts = { ...defined(own), ...common(options) } as SanityOptions;
  return call('explainSanity', (o: SanityOptions, a) => runSanity(o, a), opts, imageFiles ?? []);
}

export type TrainSst2LibraryOptions = LibraryOptions & Partial<Omit<Sst2RunOptions, keyof CommonOptions | 'givenOptions' | 'quiet'>>;

/** Trains the SST-2 sentiment classifier (sst2) on the package's data (or `dataDir`); writes the model and features to `out`. */
export async function trainSst2(options: TrainSst2LibraryOptions): Promise<Sst2Summary> {
  const { out: _o, seed: _s, backend: _b, threads: _t, log: _l, ...own } = options;
  checkOptions('trainSst2', ['sst2'], options);
  const opts = { ...SST2_DEFAULTS, ...defined(own), ...common(options) } as Sst2RunOptions;
  if (own.dataDir === undefined) opts.dataDir = dataPath('sst2');
  resolvePackageDefaults(opts as unknown as Record<string, unknown>);
  return call('trainSst2', (o: Sst2RunOptions) => runSst2(o), opts);
}

/** P(positive) of each sentence under a model saved by trainSst2 / `dnnkit sst2` (its model folder). */
export async function predictSst2(options: { model: string; sentences: string[]; backend?: CommonOptions['backend'] }): Promise<{ predictions: SentencePrediction[]; backend: string }> {
  return runSst2Predict({ model: options.model, backend: options.backend, json: true }, options.sentences);
}

export type ProjectLibraryOptions = LibraryOptions & Partial<Omit<ProjectRunOptions, keyof CommonOptions | 'quiet'>> & {
  /** CSV with a header, one point per row. */
  file: string;
};

/** PCA and/or t-SNE of the rows of a numeric CSV (project): plots, coordinates and scores in `out`. */
export async function project(options: ProjectLibraryOptions): Promise<ProjectSummary> {
  const { out: _o, seed: _s, backend: _b, threads: _t, log: _l, file, ...own } = options;
  checkOptions('project', ['project'], options);
  const opts = { method: 'both' as const, perplexity: TSNE_DEFAULTS.perplexity, iterations: TSNE_DEFAULTS.iterations, ...defined(own), ...common(options) } as unknown as ProjectRunOptions;
  return call<ProjectRunOptions, ProjectSummary>('project', (o: ProjectRunOptions) => runProject(o, path.resolve(file)), opts);
}
