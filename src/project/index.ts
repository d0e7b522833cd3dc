/**
 * Feature projection: any registered method (registry.ts: PCA, t-SNE, UMAP) of any set of
 * feature vectors to 2-D, with scatter plots and two numbers per projection that say how faithful
 * it is: trustworthiness (k = 10, Venna & Kaski 2001, as scikit-learn) and the leave-one-out 5-NN
 * accuracy in 2-D (how well the classes stay apart). `projectFeatures` is the one entry point
 * the sst2 and mnist modules and `dnnkit project` share.
 */
import * as path from 'node:path';
import { writeCsv } from '../core/csv.js';
import { writeChart } from '../core/plot.js';
import { InputError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { createProgress, type Progress } from '../core/progress.js';
import { scatterSpec } from './scatter.js';
import { knnAccuracy, trustworthinessMany } from './metrics.js';
import { methodsOf, PROJECTIONS, resolveOptions, type Embedding, type MethodSpec, type OptionValues, type ProjectionMethod } from './registry.js';

export {
  describeChoices, flagOf, methodsOf, PROJECTION_ALIASES, PROJECTION_CHOICES, PROJECTION_METHODS, PROJECTIONS, resolveOptions,
  type Embedding, type MethodSpec, type OptionValues, type ProjectionChoice, type ProjectionEntry, type ProjectionMethod, type ProjectionOption,
} from './registry.js';

/** Neighbourhood size for trustworthiness, and for the k-NN accuracy. */
export const TRUSTWORTHINESS_K = 10;
export const KNN_K = 5;

export interface ProjectFeaturesInput {
  /** n feature vectors of equal length d. */
  points: ArrayLike<number>[];
  /** True class of each point (colours; 5-NN accuracy). */
  labels: (string | number)[];
  /** Predicted class of each point; misclassified points are marked. */
  predicted?: (string | number)[];
  /** Methods: a name, an alias ('both' = pca,tsne), a comma-separated list or an array. */
  method: MethodSpec;
  outDir: string;
  /** Plot title (what the points are). */
  title: string;
  seed: number;
  /** Options of the methods by key (registry.ts: perplexity, iterations, neighbors, minDist); defaults for the rest. */
  options?: Partial<OptionValues>;
  /** t-SNE perplexity (the same as options.perplexity; kept for existing callers). */
  perplexity?: number;
  /** t-SNE iterations (the same as options.iterations). */
  iterations?: number;
  /** No log or progress output. */
  quiet?: boolean;
}

export interface ProjectionResult {
  method: ProjectionMethod;
  /** Trustworthiness of the 2-D embedding with `k` neighbours (1 = every 2-D neighbour is a true one). */
  trustworthiness: number;
  /** Leave-one-out 5-NN accuracy in 2-D; null without labels or with KNN_K points or fewer. */
  knnAccuracy: number | null;
  /** Time of the embedding alone (not the scores or the files). */
  seconds: number;
  /** The options the method ran with. */
  settings: OptionValues;
  /** Explained variance ratio of PC1 and PC2 (PCA only). */
  explainedVariance?: [number, number];
  files: string[];
}

export interface ProjectionSummary {
  points: number;
  dimensions: number;
  /** Neighbourhood size used for trustworthiness (10, fewer for tiny inputs). */
  k: number;
  /** Leave-one-out 5-NN accuracy in the input space, the ceiling for the 2-D numbers; null as knnAccuracy. */
  inputKnnAccuracy: number | null;
  /** t-SNE perplexity and iterations when t-SNE ran, else null. */
  perplexity: number | null;
  iterations: number | null;
  results: ProjectionResult[];
}

/** The methods of an input and each one's options (defaults filled in, ranges checked). */
export function resolveProjection(input: Pick<ProjectFeaturesInput, 'method' | 'options' | 'perplexity' | 'iterations'>): { method: ProjectionMethod; options: OptionValues }[] {
  const given: Partial<OptionValues> = { perplexity: input.perplexity, iterations: input.iterations, ...input.options };
  return methodsOf(input.method).map((method) => ({ method, options: resolveOptions(method, given) }));
}

/**
 * Checks the points before anything is written: at least 3 points, equal lengths, finite values,
 * labels matching, known methods with valid options, and enough points for each method (its
 * registry `check`). `source` names the input.
 */
export function validateProjectionInput(input: Omit<ProjectFeaturesInput, 'outDir' | 'title' | 'seed'>, source: string): void {
  const n = input.points.length;
  if (n < 3) throw new InputError(`${source}: ${n} point${n === 1 ? '' : 's'}; a projection needs at least 3`);
  const d = input.points[0].length;
  if (d < 1) throw new InputError(`${source}: the points have no feature values`);
  input.points.forEach((p, i) => {
    if (p.length !== d) throw new InputError(`${source}: point ${i} has ${p.length} values, point 0 has ${d}; every point needs the same number`);
    for (let j = 0; j < p.length; j++) {
      if (!Number.isFinite(p[j])) throw new InputError(`${source}: point ${i} value ${j} is ${p[j]}; every value must be a finite number`);
    }
  });
  if (input.labels.length !== 0 && input.labels.length !== n) throw new InputError(`${source}: ${input.labels.length} labels for ${n} points`);
  if (input.predicted && input.predicted.length !== n) throw new InputError(`${source}: ${input.predicted.length} predictions for ${n} points`);
  for (const { method, options } of resolveProjection(input)) {
    const problem = PROJECTIONS[method].check?.(n, d, options);
    if (problem) throw new InputError(`${source}: ${problem}`);
  }
}

/** One computed embedding, timed. */
interface Computed {
  method: ProjectionMethod;
  options: OptionValues;
  embedding: Embedding;
  seconds: number;
}

/** Runs every method's embed hook (nothing written yet), with a progress bar per iterative method. */
function computeEmbeddings(input: ProjectFeaturesInput): Computed[] {
  const out: Computed[] = [];
  for (const { method, options } of resolveProjection(input)) {
    const entry = PROJECTIONS[method];
    let progress: Progress | undefined;
    const onProgress = (done: number, total: number) => {
      progress ??= createProgress({ total, label: entry.title, quiet: input.quiet });
      progress.update(done);
    };
    const t0 = Date.now();
    try {
      const embedding = entry.embed(input.points, options, { seed: input.seed, onProgress });
      out.push({ method, options, embedding, seconds: (Date.now() - t0) / 1000 });
    } finally {
      progress?.stop();
    }
  }
  return out;
}

/**
 * Projects the points with each method into `outDir`: embed-<method>.csv (2-D coordinates),
 * embed-<method>.svg/.png (scatter), the method's tables (PCA: pca-explained-variance.csv),
 * projection-summary.csv; returns the numbers. Every projection is computed before the first
 * file is written: a failure leaves no partial set.
 */
export async function projectFeatures(input: ProjectFeaturesInput): Promise<ProjectionSummary> {
  validateProjectionInput(input, input.title);
  const log = createLogger(input.quiet);
  const n = input.points.length;
  const d = input.points[0].length;
  const hasLabels = input.labels.length === n;
  // Leave-one-out k-NN needs k other points; with fewer the score is left out, not an error.
  const scoreKnn = hasLabels && n > KNN_K;
  if (hasLabels && !scoreKnn) log.warn(`${input.title}: no ${KNN_K}-NN accuracy: it needs at least ${KNN_K + 1} points, there are ${n}`);
  const k = Math.max(1, Math.min(TRUSTWORTHINESS_K, Math.floor((n - 1) / 2)));
  const inputKnn = scoreKnn ? knnAccuracy(input.points, input.labels, KNN_K) : null;
  const computed = computeEmbeddings(input);
  const lows = computed.map(({ embedding: { coords } }) => Array.from({ length: n }, (_, i) => coords.subarray(2 * i, 2 * i + 2)));
  // One pass over the input-space distances scores every embedding.
  const trust = trustworthinessMany(input.points, lows, k);
  const results: ProjectionResult[] = [];
  for (const [e, { method, options, embedding, seconds }] of computed.entries()) {
    const knn = scoreKnn ? knnAccuracy(lows[e], input.labels, KNN_K) : null;
    const metricsLine = `trustworthiness (k=${k}) ${trust[e].toFixed(3)}${knn === null ? '' : `, ${KNN_K}-NN accuracy in 2-D ${(100 * knn).toFixed(1)}%`}`;
    const files = await writeEmbedding(input, method, embedding, metricsLine);
    log.info(`${PROJECTIONS[method].title}: ${metricsLine} (${seconds.toFixed(1)} s) -> ${files[2]}`);
    results.push({ method, trustworthiness: trust[e], knnAccuracy: knn, seconds, settings: options, ...(embedding.extra ?? {}), files });
  }
  await writeCsv(path.join(input.outDir, 'projection-summary.csv'),
    ['method', 'points', 'dimensions', 'trustworthiness_k', 'trustworthiness', 'knn5_accuracy_2d', 'knn5_accuracy_input', 'seconds'],
    results.map((r) => [r.method, n, d, k, r.trustworthiness, r.knnAccuracy ?? '', inputKnn ?? '', r.seconds]));
  const tsneRun = results.find((r) => 'perplexity' in r.settings && 'iterations' in r.settings);
  return {
    points: n, dimensions: d, k, inputKnnAccuracy: inputKnn,
    perplexity: tsneRun ? tsneRun.settings.perplexity : null,
    iterations: tsneRun ? tsneRun.settings.iterations : null,
    results,
  };
}

/** Writes embed-<method>.csv/.svg/.png and the method's tables; returns the paths (csv, svg, png, tables). */
async function writeEmbedding(input: ProjectFeaturesInput, method: ProjectionMethod, embedding: Embedding, metricsLine: string): Promise<string[]> {
  const n = input.points.length;
  const hasLabels = input.labels.length === n;
  const base = path.join(input.outDir, `embed-${method}`);
  const { coords } = embedding;
  const tables: string[] = [];
  for (const t of embedding.tables ?? []) {
    const file = path.join(input.outDir, t.file);
    await writeCsv(file, t.header, t.rows);
    tables.push(file);
  }
  await writeCsv(`${base}.csv`, ['index', 'label', 'predicted', 'x', 'y'],
    Array.from({ length: n }, (_, i) => [i, hasLabels ? input.labels[i] : '', input.predicted ? input.predicted[i] : '', coords[2 * i], coords[2 * i + 1]]));
  await writeChart(base, scatterSpec({
    coords, labels: hasLabels ? input.labels : undefined, predicted: input.predicted, axes: embedding.axes,
    title: `${PROJECTIONS[method].title}: ${input.title}`, subtitle: [embedding.subtitle, metricsLine],
    xTitle: embedding.axisTitles[0], yTitle: embedding.axisTitles[1],
  }));
  return [`${base}.csv`, `${base}.svg`, `${base}.png`, ...tables];
}
