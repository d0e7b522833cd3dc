/**
 * Shapley value estimators over any cooperative game (pure maths: no images, no models, no CLI).
 *
 *   phi_i = sum_{S subset N\{i}} |S|! (n - |S| - 1)! / n! [v(S u {i}) - v(S)]
 *
 * (L. S. Shapley, "A value for n-person games", 1953.)
 *
 * `sampledShapley`: permutation sampling (E. Strumbelj and I. Kononenko, "Explaining prediction
 * models and individual predictions with feature contributions", KAIS 2014; J. Castro, D. Gomez and
 * J. Tejada, "Polynomial calculation of the Shapley value based on sampling", 2009), each
 * permutation paired with its reverse (antithetic sampling: R. Mitchell, J. Cooper, E. Frank and
 * G. Holmes, "Sampling Permutations for Shapley Value Estimation", JMLR 2022). Every permutation's
 * marginal contributions sum to v(N) - v(empty), so the estimate is efficient by construction.
 * `exactShapley` enumerates all 2^n coalitions (n <= MAX_EXACT_PLAYERS). Coalitions are memoised
 * (bitset keys) and evaluated in batches.
 *
 * Errors here are programming errors (RangeError) and name no command-line flag: the commands
 * check their options first (options.ts).
 */
import { createRng } from '../core/rng.js';

/** Largest number of players `exactShapley` enumerates (2^12 = 4,096 coalitions). */
export const MAX_EXACT_PLAYERS = 12;

/** A cooperative game: the values of batches of coalitions (membership 0/1 per player). */
export interface CoalitionGame {
  /** Number of players. */
  readonly players: number;
  /** v(S) for each coalition. */
  values(coalitions: readonly Uint8Array[]): Promise<Float64Array>;
}

/** Options of the estimators (defaults in DEFAULT_SHAPLEY_OPTIONS). */
export interface ShapleyOptions {
  /** Permutations to sample (rounded up to an even number: each one is paired with its reverse). */
  samples: number;
  /** Coalitions per forward pass. */
  batch: number;
  /** Enumerate all coalitions instead of sampling (players <= MAX_EXACT_PLAYERS). */
  exact: boolean;
  /** Seed of the permutation sampler. */
  seed: number;
  /** Called after each evaluated batch with (coalitions evaluated, coalitions planned). */
  onProgress?: (done: number, total: number) => void;
}

export const DEFAULT_SHAPLEY_OPTIONS: ShapleyOptions = { samples: 32, batch: 16, exact: false, seed: 42 };

export interface ShapleyResult {
  /** Shapley value estimate per player. */
  phi: number[];
  /** Standard error per player (0 for exact). */
  se: number[];
  /** 95% confidence interval per player (Student t over the antithetic pairs). */
  ciLow: number[];
  ciHigh: number[];
  /** v(N): all players present (the original image). */
  vFull: number;
  /** v(empty): the baseline image. */
  vEmpty: number;
  /** |sum(phi) - (v(N) - v(empty))| / max(|v(N) - v(empty)|, 1e-6). */
  efficiencyGap: number;
  /** Distinct coalitions evaluated (forward passes). */
  evaluations: number;
  /** Permutations used (0 for exact). */
  permutations: number;
  method: 'exact' | 'permutation';
}

/** Bitset key of a coalition: 16 players per UTF-16 code unit. */
export function coalitionKey(c: Uint8Array): string {
  let key = '';
  for (let i = 0; i < c.length; i += 16) {
    let word = 0;
    for (let j = i; j < Math.min(i + 16, c.length); j++) if (c[j]) word |= 1 << (j - i);
    key += String.fromCharCode(word);
  }
  return key;
}

/** Evaluates coalitions through a memo, unseen ones in batches; returns their values in order. */
class MemoGame {
  readonly memo = new Map<string, number>();
  constructor(private readonly game: CoalitionGame, private readonly batch: number, private readonly onProgress?: (done: number, total: number) => void) {}

  async values(coalitions: readonly Uint8Array[]): Promise<Float64Array> {
    const keys = coalitions.map(coalitionKey);
    const todo: Uint8Array[] = [];
    const todoKeys = new Set<string>();
    keys.forEach((k, i) => {
      if (!this.memo.has(k) && !todoKeys.has(k)) {
        todoKeys.add(k);
        todo.push(coalitions[i]);
      }
    });
    const total = this.memo.size + todo.length;
    for (let start = 0; start < todo.length; start += this.batch) {
      const chunk = todo.slice(start, start + this.batch);
      const v = await this.game.values(chunk);
      chunk.forEach((c, j) => {
        if (!Number.isFinite(v[j])) throw new Error(`the model gave a non-finite value (${v[j]}) for a coalition; check the model and input`);
        this.memo.set(coalitionKey(c), v[j]);
      });
      this.onProgress?.(this.memo.size, total);
    }
    return Float64Array.from(keys, (k) => this.memo.get(k)!);
  }
}

/** Two-sided 95% Student t quantile (Cornish-Fisher expansion; exact table for small df). */
export function tQuantile975(df: number): number {
  const table = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];
  if (df <= 10) return table[Math.max(1, Math.round(df))];
  const z = 1.959964;
  const g1 = (z ** 3 + z) / 4;
  const g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96;
  const g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384;
  return z + g1 / df + g2 / df ** 2 + g3 / df ** 3;
}

function efficiencyGap(phi: readonly number[], vFull: number, vEmpty: number): number {
  const total = phi.reduce((a, b) => a + b, 0);
  return Math.abs(total - (vFull - vEmpty)) / Math.max(Math.abs(vFull - vEmpty), 1e-6);
}

/** Exact Shapley values by enumerating all 2^n coalitions (n <= MAX_EXACT_PLAYERS). */
export async function exactShapley(game: CoalitionGame, opts: Pick<ShapleyOptions, 'batch' | 'onProgress'> = DEFAULT_SHAPLEY_OPTIONS): Promise<ShapleyResult> {
  const n = game.players;
  if (n > MAX_EXACT_PLAYERS) throw new RangeError(`exactShapley enumerates 2^n coalitions and allows at most ${MAX_EXACT_PLAYERS} players, got ${n}; use sampledShapley`);
  const count = 2 ** n;
  const coalitions = Array.from({ length: count }, (_, mask) => Uint8Array.from({ length: n }, (_, i) => (mask >> i) & 1));
  const memo = new MemoGame(game, opts.batch, opts.onProgress);
  const v = await memo.values(coalitions);
  // Shapley weight of a coalition of size s not containing i: s! (n - s - 1)! / n!
  const fact = [1];
  for (let i = 1; i <= n; i++) fact.push(fact[i - 1] * i);
  const weight = Array.from({ length: n }, (_, s) => (fact[s] * fact[n - s - 1]) / fact[n]);
  const popcount = (m: number) => { let c = 0; while (m) { m &= m - 1; c++; } return c; };
  const phi = new Array<number>(n).fill(0);
  for (let mask = 0; mask < count; mask++) {
    const s = popcount(mask);
    for (let i = 0; i < n; i++) {
      if (mask & (1 << i)) continue;
      phi[i] += weight[s] * (v[mask | (1 << i)] - v[mask]);
    }
  }
  const vFull = v[count - 1];
  const vEmpty = v[0];
  const zeros = new Array<number>(n).fill(0);
  return { phi, se: zeros, ciLow: phi.slice(), ciHigh: phi.slice(), vFull, vEmpty, efficiencyGap: efficiencyGap(phi, vFull, vEmpty), evaluations: memo.memo.size, permutations: 0, method: 'exact' };
}

/**
 * Shapley values by antithetic permutation sampling. Each pair (pi, reverse(pi)) gives one
 * sample per player, the mean of its two marginal contributions; phi is the mean over pairs and
 * the standard error is the pairs' standard deviation / sqrt(pairs).
 */
export async function sampledShapley(game: CoalitionGame, opts: ShapleyOptions): Promise<ShapleyResult> {
  const n = game.players;
  const pairs = Math.max(2, Math.ceil(opts.samples / 2));
  const rng = createRng(opts.seed);
  const perms: number[][] = [];
  for (let p = 0; p < pairs; p++) {
    const pi = rng.permutation(n);
    perms.push(pi, pi.slice().reverse());
  }
  // All prefix coalitions of all permutations: S_0 = empty, ..., S_n = N.
  const prefixes: Uint8Array[] = [];
  for (const pi of perms) {
    const c = new Uint8Array(n);
    prefixes.push(c.slice());
    for (const player of pi) {
      c[player] = 1;
      prefixes.push(c.slice());
    }
  }
  const memo = new MemoGame(game, opts.batch, opts.onProgress);
  const v = await memo.values(prefixes);
  const sum = new Float64Array(n);
  const sumSq = new Float64Array(n);
  for (let p = 0; p < pairs; p++) {
    const pairSample = new Float64Array(n);
    for (let q = 0; q < 2; q++) {
      const k = 2 * p + q;
      const base = k * (n + 1);
      perms[k].forEach((player, j) => {
        pairSample[player] += 0.5 * (v[base + j + 1] - v[base + j]);
      });
    }
    for (let i = 0; i < n; i++) {
      sum[i] += pairSample[i];
      sumSq[i] += pairSample[i] ** 2;
    }
  }
  const phi = Array.from(sum, (s) => s / pairs);
  const se = phi.map((m, i) => Math.sqrt(Math.max(0, (sumSq[i] - pairs * m * m) / (pairs - 1)) / pairs));
  const t = tQuantile975(pairs - 1);
  const vFull = v[n];
  const vEmpty = v[0];
  const gap = efficiencyGap(phi, vFull, vEmpty);
  if (gap > 1e-4) throw new Error(`internal error: permutation estimate not efficient (relative gap ${gap})`);
  return {
    phi, se,
    ciLow: phi.map((m, i) => m - t * se[i]),
    ciHigh: phi.map((m, i) => m + t * se[i]),
    vFull, vEmpty, efficiencyGap: gap, evaluations: memo.memo.size, permutations: perms.length, method: 'permutation',
  };
}

/** Shapley values of a game: exact or sampled according to `opts.exact`. */
export function shapleyValues(game: CoalitionGame, opts: ShapleyOptions): Promise<ShapleyResult> {
  return opts.exact ? exactShapley(game, opts) : sampledShapley(game, opts);
}
