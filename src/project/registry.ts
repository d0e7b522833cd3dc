/**
 * The projection methods: the single source of their names, descriptions, options (defaults and
 * ranges) and the `embed` hook that computes the 2-D coordinates. The `project` command's
 * --method choices, its per-method flags and its help text, the `--embed-plot` choices of
 * train-mnist and sst2, and `projectFeatures` all derive from this table; no caller names a method.
 *
 * Adding a method: write its maths in one file (as umap.ts), add one entry below.
 */
import { UsageError } from '../core/errors.js';
import { pca2d } from './pca.js';
import { tsne, tsneReducedDims, TSNE_DEFAULTS } from './tsne.js';
import { umap, UMAP_DEFAULTS } from './umap.js';

/** One numeric option of a method; the CLI flag is the kebab-cased key (`minDist` -> `--min-dist`). */
export interface ProjectionOption {
  key: string;
  description: string;
  default: number;
  integer: boolean;
  /** Valid range, inclusive. */
  min: number;
  max: number;
}

/** Option values by key. */
export type OptionValues = Record<string, number>;

/** A computed 2-D embedding and how to draw and describe it. */
export interface Embedding {
  /** [n * 2] row-major coordinates. */
  coords: Float64Array;
  axisTitles: [string, string];
  /**
   * 'equal': x and y share one scale (a unit is as long on both axes: PCA, whose second component
   * may hold a fraction of the first's variance); 'hidden': the axis values mean nothing (t-SNE, UMAP).
   */
  axes: 'equal' | 'hidden';
  /** What was computed, with which settings (a line under the plot title). */
  subtitle: string;
  /** Extra CSV tables written beside the coordinates. */
  tables?: { file: string; header: string[]; rows: (string | number)[][] }[];
  /** Extra numbers for the summary, e.g. PCA's explainedVariance. */
  extra?: Record<string, unknown>;
}

export interface EmbedContext {
  seed: number;
  /** Progress of iterative methods: work done and total. */
  onProgress?: (done: number, total: number) => void;
}

/** A projection method: what the registry holds for each. */
export interface ProjectionEntry {
  name: string;
  /** Name in titles and logs. */
  title: string;
  /** One line for --help, with the paper. */
  description: string;
  options: readonly ProjectionOption[];
  /** Why n points of d values cannot be embedded with these options (what to do included), or undefined. */
  check?(n: number, d: number, opts: OptionValues): string | undefined;
  /** The 2-D embedding of `points` (n rows of d numbers; not modified). */
  embed(points: ArrayLike<number>[], opts: OptionValues, ctx: EmbedContext): Embedding;
}

const pct = (v: number | undefined) => `${(100 * (v ?? 0)).toFixed(1)}%`;

const PCA_ENTRY: ProjectionEntry = {
  name: 'pca',
  title: 'PCA',
  description: 'principal component analysis (linear; Pearson 1901), explained variance in a CSV',
  options: [],
  embed(points) {
    const { coords, explainedVarianceRatio: ev } = pca2d(points);
    return {
      coords, axes: 'equal',
      axisTitles: [`PC1 (${pct(ev[0])} of variance)`, `PC2 (${pct(ev[1])} of variance)`],
      subtitle: `PCA of ${points.length} points, ${points[0].length} dimensions`,
      tables: [{
        file: 'pca-explained-variance.csv', header: ['component', 'explained_variance_ratio', 'cumulative'],
        rows: ev.map((v, i) => [i + 1, v, ev.slice(0, i + 1).reduce((a, b) => a + b, 0)]),
      }],
      extra: { explainedVariance: [ev[0], ev[1] ?? 0] },
    };
  },
};

const TSNE_ENTRY: ProjectionEntry = {
  name: 'tsne',
  title: 't-SNE',
  description: 't-SNE (van der Maaten & Hinton 2008; Barnes-Hut), PCA initialisation, seeded',
  options: [
    { key: 'perplexity', description: 't-SNE perplexity (needs more than 3 x perplexity rows)', default: TSNE_DEFAULTS.perplexity, integer: false, min: 1, max: 1000 },
    { key: 'iterations', description: 't-SNE iterations (including 250 of early exaggeration)', default: TSNE_DEFAULTS.iterations, integer: true, min: 250, max: 100_000 },
  ],
  check(n, _d, { perplexity }) {
    if (n > 3 * perplexity) return undefined;
    // --perplexity accepts values >= 1, so lowering it helps only when n > 3 rows.
    const wayOut = n > 3 ? `lower --perplexity to below ${(n / 3).toFixed(1)} (it must stay >= 1), add rows, or use --method pca` : 'add rows (t-SNE needs at least 4) or use --method pca';
    return `${n} points are too few for t-SNE with perplexity ${perplexity} (needs more than 3 x perplexity = ${3 * perplexity}); ${wayOut}`;
  },
  embed(points, { perplexity, iterations }, { seed, onProgress }) {
    const n = points.length;
    const d = points[0].length;
    const coords = tsne(points, { ...TSNE_DEFAULTS, perplexity, iterations, seed, init: 'pca', onProgress });
    const reduced = tsneReducedDims(n, d);
    return {
      coords, axes: 'hidden', axisTitles: ['t-SNE 1', 't-SNE 2'],
      subtitle: `t-SNE of ${n} points, ${d} dimensions${reduced === undefined ? '' : ` (first ${reduced} principal components)`}: perplexity ${perplexity}, ${iterations} iterations, PCA init, seed ${seed}`,
    };
  },
};

const UMAP_ENTRY: ProjectionEntry = {
  name: 'umap',
  title: 'UMAP',
  description: 'UMAP (McInnes, Healy & Melville 2018; umap-js on exact neighbours), seeded',
  options: [
    { key: 'neighbors', description: 'UMAP neighbourhood size, the point itself included (needs more rows)', default: UMAP_DEFAULTS.nNeighbors, integer: true, min: 2, max: 1000 },
    { key: 'minDist', description: 'UMAP minimum distance between embedded points', default: UMAP_DEFAULTS.minDist, integer: false, min: 0, max: 1 },
  ],
  check(n, _d, { neighbors }) {
    if (n > neighbors) return undefined;
    const wayOut = n > 2 ? `lower --neighbors to ${n - 1} or less (it must stay >= 2), add rows, or use --method pca` : 'add rows (UMAP needs at least 3) or use --method pca';
    return `${n} points are too few for UMAP with ${neighbors} neighbours (needs more than ${neighbors}); ${wayOut}`;
  },
  embed(points, { neighbors, minDist }, { seed, onProgress }) {
    const coords = umap(points, { nNeighbors: neighbors, minDist, seed, onProgress });
    return {
      coords, axes: 'hidden', axisTitles: ['UMAP 1', 'UMAP 2'],
      subtitle: `UMAP of ${points.length} points, ${points[0].length} dimensions: ${neighbors} neighbours, min-dist ${minDist}, seed ${seed}`,
    };
  },
};

/** The registry. */
export const PROJECTIONS = { pca: PCA_ENTRY, tsne: TSNE_ENTRY, umap: UMAP_ENTRY } as const satisfies Record<string, ProjectionEntry>;
export type ProjectionMethod = keyof typeof PROJECTIONS;
export const PROJECTION_METHODS = Object.keys(PROJECTIONS) as ProjectionMethod[];

/** Names that stand for several methods. */
export const PROJECTION_ALIASES: Record<string, readonly ProjectionMethod[]> = { both: ['pca', 'tsne'] };
/** What a single-valued --method / --embed-plot accepts: a method or an alias. */
export const PROJECTION_CHOICES = [...PROJECTION_METHODS, ...Object.keys(PROJECTION_ALIASES)] as readonly string[];
export type ProjectionChoice = ProjectionMethod | 'both';
/** A method, an alias, a comma-separated list of them ('pca,umap'), or an array of them. */
export type MethodSpec = ProjectionChoice | string | readonly string[];

/** The methods a spec stands for, in the order given, each once; an unknown name is a UsageError. */
export function methodsOf(spec: MethodSpec): ProjectionMethod[] {
  const names = (typeof spec === 'string' ? spec.split(',') : [...spec]).map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  const out: ProjectionMethod[] = [];
  for (const name of names) {
    const expanded = PROJECTION_ALIASES[name] ?? (name in PROJECTIONS ? [name as ProjectionMethod] : undefined);
    if (!expanded) throw new UsageError(`unknown projection method '${name}'; use ${describeChoices()}`);
    for (const m of expanded) if (!out.includes(m)) out.push(m);
  }
  if (out.length === 0) throw new UsageError(`no projection method given; use ${describeChoices()}`);
  return out;
}

/** "pca, tsne or umap, or a comma-separated list of them (both = pca,tsne)". */
export function describeChoices(): string {
  const aliases = Object.entries(PROJECTION_ALIASES).map(([k, v]) => `${k} = ${v.join(',')}`).join('; ');
  return `${PROJECTION_METHODS.slice(0, -1).join(', ')} or ${PROJECTION_METHODS[PROJECTION_METHODS.length - 1]}, or a comma-separated list of them (${aliases})`;
}

/** `minDist` -> `--min-dist`. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * The options of `method`: each given value checked against its range (a UsageError naming the
 * flag and the range), every missing one set to its default.
 */
export function resolveOptions(method: ProjectionMethod, given: Partial<OptionValues>): OptionValues {
  const out: OptionValues = {};
  for (const o of PROJECTIONS[method].options) {
    const v = given[o.key] ?? o.default;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < o.min || v > o.max || (o.integer && !Number.isInteger(v))) {
      throw new UsageError(`${flagOf(o.key)} must be ${o.integer ? 'a whole number' : 'a number'} in [${o.min}, ${o.max}], got ${v}`);
    }
    out[o.key] = v;
  }
  return out;
}

// Option keys are CLI flags shared by all methods: two methods may not declare the same key.
const seenKeys = new Set<string>();
for (const entry of Object.values(PROJECTIONS) as ProjectionEntry[]) {
  for (const o of entry.options) {
    if (seenKeys.has(o.key)) throw new Error(`projection registry: option '${o.key}' declared twice`);
    seenKeys.add(o.key);
  }
}
