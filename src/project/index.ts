/**
 * Feature projection: PCA (ml-pca) and t-SNE (tsne.ts) of any set of feature vectors to 2-D,
 * with scatter plots and two numbers per projection that say how faithful it is:
 * trustworthiness (k = 10, Venna & Kaski 2001, as scikit-learn) and the leave-one-out 5-NN
 * accuracy in 2-D (how well the classes stay apart). `projectFeatures` is the one entry point
 * the sst2 and mnist modules and `dnnkit project` share.
 */
import * as path from 'node:path';
import { writeCsv } from '../core/csv.js';
import { writeChart } from '../core/plot.js';
import { InputError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { createProgress } from '../core/progress.js';
import { pca2d } from './pca.js';
import { scatterSpec } from './scatter.js';
import { tsne, tsneReducedDims, TSNE_DEFAULTS } from './tsne.js';
import { knnAccuracy, trustworthiness } from './metrics.js';

/** The projection methods: the single source of names for the CLI, types and help. */
export const PROJECTIONS = {
  pca: { title: 'PCA', help: 'principal component analysis (linear; ml-pca), explained variance in a CSV' },
  tsne: { title: 't-SNE', help: 't-SNE (van der Maaten & Hinton 2008; Barnes-Hut), PCA initialisation, seeded' },
} as const;
export type ProjectionMethod = keyof typeof PROJECTIONS;
export const PROJECTION_METHODS = Object.keys(PROJECTIONS) as ProjectionMethod[];
/** What --method / --embed-plot accept: a method or both. */
export const PROJECTION_CHOICES = [...PROJECTION_METHODS, 'both'] as const;
export type ProjectionChoice = (typeof PROJECTION_CHOICES)[number];

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
  method: ProjectionChoice;
  outDir: string;
  /** Plot title (what the points are). */
  title: string;
  seed: number;
  /** t-SNE perplexity (default TSNE_DEFAULTS.perplexity); n must exceed 3 x perplexity. */
  perplexity?: number;
  /** t-SNE iterations (default TSNE_DEFAULTS.iterations). */
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
  seconds: number;
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
  perplexity: number | null;
  iterations: number | null;
  results: ProjectionResult[];
}

/** Methods a choice stands for. */
export function methodsOf(choice: ProjectionChoice): ProjectionMethod[] {
  return choice === 'both' ? [...PROJECTION_METHODS] : [choice];
}

/**
 * Checks the points before anything is written: at least 3 points, equal lengths, finite values,
 * labels matching, and more than 3 x perplexity points for t-SNE. `source` names the input.
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
  if (methodsOf(input.method).includes('tsne')) {
    const perplexity = input.perplexity ?? TSNE_DEFAULTS.perplexity;
    if (!(n > 3 * perplexity)) {
      // --perplexity accepts values >= 1, so lowering it helps only when n > 3 rows.
      const wayOut = n > 3 ? `lower --perplexity to below ${(n / 3).toFixed(1)} (it must stay >= 1), add rows, or use --method pca` : 'add rows (t-SNE needs at least 4) or use --method pca';
      throw new InputError(`${source}: ${n} points are too few for t-SNE with perplexity ${perplexity} (needs more than 3 x perplexity = ${3 * perplexity}); ${wayOut}`);
    }
  }
}

/**
 * Projects the points with PCA and/or t-SNE into `outDir`: embed-<method>.csv (2-D
 * coordinates), embed-<method>.svg/.png (scatter), pca-explained-variance.csv (PCA),
 * projection-summary.csv; returns the numbers.
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
  const perplexity = input.perplexity ?? TSNE_DEFAULTS.perplexity;
  const iterations = input.iterations ?? TSNE_DEFAULTS.iterations;
  const methods = methodsOf(input.method);
  const inputKnn = scoreKnn ? knnAccuracy(input.points, input.labels, KNN_K) : null;
  // Every projection is computed before the first file is written: a failure leaves no partial set.
  const computed: { method: ProjectionMethod; coords: Float64Array; explained?: number[]; subtitle: string; axes: [string, string]; seconds: number }[] = [];
  for (const method of methods) {
    const t0 = Date.now();
    if (method === 'pca') {
      const res = pca2d(input.points);
      const explained = res.explainedVarianceRatio;
      const pct = (v: number | undefined) => `${(100 * (v ?? 0)).toFixed(1)}%`;
      computed.push({
        method, coords: res.coords, explained, seconds: (Date.now() - t0) / 1000,
        axes: [`PC1 (${pct(explained[0])} of variance)`, `PC2 (${pct(explained[1])} of variance)`],
        subtitle: `PCA of ${n} points, ${d} dimensions`,
      });
    } else {
      const progress = createProgress({ total: iterations, label: 't-SNE', quiet: input.quiet });
      const coords = tsne(input.points, { ...TSNE_DEFAULTS, perplexity, iterations, seed: input.seed, init: 'pca', onProgress: (it) => progress.update(it) });
      progress.stop();
      const reduced = tsneReducedDims(n, d);
      computed.push({
        method, coords, seconds: (Date.now() - t0) / 1000, axes: ['t-SNE 1', 't-SNE 2'],
        subtitle: `t-SNE of ${n} points, ${d} dimensions${reduced === undefined ? '' : ` (first ${reduced} principal components)`}: perplexity ${perplexity}, ${iterations} iterations, PCA init, seed ${input.seed}`,
      });
    }
  }
  const results: ProjectionResult[] = [];
  for (const { method, coords, explained, subtitle, axes, seconds } of computed) {
    const low = Array.from({ length: n }, (_, i) => coords.subarray(2 * i, 2 * i + 2));
    const trust = trustworthiness(input.points, low, k);
    const knn = scoreKnn ? knnAccuracy(low, input.labels, KNN_K) : null;
    const base = path.join(input.outDir, `embed-${method}`);
    if (explained) {
      await writeCsv(path.join(input.outDir, 'pca-explained-variance.csv'), ['component', 'explained_variance_ratio', 'cumulative'],
        explained.map((v, i) => [i + 1, v, explained.slice(0, i + 1).reduce((a, b) => a + b, 0)]));
    }
    await writeCsv(`${base}.csv`, ['index', 'label', 'predicted', 'x', 'y'],
      low.map((p, i) => [i, hasLabels ? input.labels[i] : '', input.predicted ? input.predicted[i] : '', p[0], p[1]]));
    const metricsLine = `trustworthiness (k=${k}) ${trust.toFixed(3)}${knn === null ? '' : `, 5-NN accuracy in 2-D ${(100 * knn).toFixed(1)}%`}`;
    await writeChart(base, scatterSpec({
      coords, labels: hasLabels ? input.labels : undefined, predicted: input.predicted,
      title: `${PROJECTIONS[method].title}: ${input.title}`, subtitle: [subtitle, metricsLine], xTitle: axes[0], yTitle: axes[1],
    }));
    log.info(`${PROJECTIONS[method].title}: ${metricsLine} (${seconds.toFixed(1)} s) -> ${base}.png`);
    results.push({
      method, trustworthiness: trust, knnAccuracy: knn, seconds,
      ...(explained ? { explainedVariance: [explained[0], explained[1] ?? 0] as [number, number] } : {}),
      files: [`${base}.csv`, `${base}.svg`, `${base}.png`, ...(method === 'pca' ? [path.join(input.outDir, 'pca-explained-variance.csv')] : [])],
    });
  }
  await writeCsv(path.join(input.outDir, 'projection-summary.csv'),
    ['method', 'points', 'dimensions', 'trustworthiness_k', 'trustworthiness', 'knn5_accuracy_2d', 'knn5_accuracy_input', 'seconds'],
    results.map((r) => [r.method, n, d, k, r.trustworthiness, r.knnAccuracy ?? '', inputKnn ?? '', r.seconds]));
  return {
    points: n, dimensions: d, k, inputKnnAccuracy: inputKnn,
    perplexity: methods.includes('tsne') ? perplexity : null,
    iterations: methods.includes('tsne') ? iterations : null,
    results,
  };
}
