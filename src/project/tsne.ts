/**
 * Barnes-Hut t-SNE (van der Maaten 2014, "Accelerating t-SNE using tree-based algorithms").
 * Work in progress: the signature is final, the implementation lands next.
 */
export interface TsneOptions {
  /** Effective number of neighbours (sklearn default 30); needs n > 3 * perplexity. */
  perplexity: number;
  /** Gradient step size; 'auto' = max(N / earlyExaggeration / 4, 50) as in scikit-learn. */
  learningRate: number | 'auto';
  /** Total optimisation iterations, including the 250 early-exaggeration ones. */
  iterations: number;
  /** Seed for the random init and any tie-breaking. */
  seed: number;
  /** 'pca': first two principal components scaled to std 1e-4 (sklearn); 'random': N(0, 1e-4). */
  init: 'pca' | 'random';
  /** Barnes-Hut opening angle (0.5 as sklearn); smaller is more exact and slower. */
  theta?: number;
  /** Called now and then with the iteration done so far. */
  onProgress?: (iteration: number, total: number) => void;
}

export const TSNE_DEFAULTS: TsneOptions = {
  perplexity: 30,
  learningRate: 'auto',
  iterations: 1000,
  seed: 42,
  init: 'pca',
  theta: 0.5,
};

/** Embeds `points` (N rows of D numbers) in 2-D; returns N*2 row-major coordinates. */
export function tsne(points: ArrayLike<number>[], opts: TsneOptions): Float64Array {
  void points;
  void opts;
  throw new Error('tsne: not implemented yet');
}
