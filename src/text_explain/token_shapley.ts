/**
 * Shapley values of a sentence's tokens (L. S. Shapley 1953; for words, as shap's text masker,
 * Lundberg and Lee, "A Unified Approach to Interpreting Model Predictions", NeurIPS 2017):
 *
 *   phi_i = sum_{S subset N\{i}} |S|! (n - |S| - 1)! / n! [v(S u {i}) - v(S)]
 *
 * with v(S) the log-odds of the explained class with the tokens outside S masked (game.ts).
 * Up to `exactMax` tokens all 2^n coalitions are evaluated in batches (`exactShapleyUpTo`); above,
 * antithetic permutation sampling (explain/shapley.ts sampledShapley) gives standard errors and
 * 95% intervals.
 */
import { sampledShapley, type CoalitionGame, type ShapleyResult } from '../explain/shapley.js';
import { TokenGame } from './game.js';
import type { MethodInput, TokenAttribution, TokenMethod } from './method.js';
import { relativeGap } from './method.js';

/** Most tokens `exactShapleyUpTo` enumerates (2^16 = 65,536 coalitions). */
export const MAX_EXACT_TOKENS = 16;

/**
 * Coalitions handed to the game per call in exact enumeration: the token game splits them into
 * equal-length forward passes itself, so large chunks let `drop` fill its batches.
 */
const EXACT_CHUNK = 4096;

/**
 * Exact Shapley values by enumerating all 2^n coalitions, n <= maxPlayers <= MAX_EXACT_TOKENS,
 * `chunk` coalitions per call of game.values.
 * explain/shapley.ts's exactShapley is the same sum with its limit fixed at 12 players (image
 * patches); sentences need up to 14 or more, so this one takes the limit as an argument.
 */
export async function exactShapleyUpTo(game: CoalitionGame, maxPlayers: number, chunk: number): Promise<ShapleyResult> {
  const n = game.players;
  if (maxPlayers > MAX_EXACT_TOKENS || n > maxPlayers) throw new RangeError(`exactShapleyUpTo: ${n} players, limit ${maxPlayers} (at most ${MAX_EXACT_TOKENS})`);
  const count = 2 ** n;
  const v = new Float64Array(count);
  // Coalition `mask` holds player i when bit i is set.
  for (let start = 0; start < count; start += chunk) {
    const coalitions = Array.from({ length: Math.min(chunk, count - start) }, (_, k) => Uint8Array.from({ length: n }, (_, i) => ((start + k) >> i) & 1));
    const values = await game.values(coalitions);
    values.forEach((x, k) => {
      if (!Number.isFinite(x)) throw new Error(`the model gave a non-finite value (${x}) for a coalition; check the model`);
      v[start + k] = x;
    });
  }
  const fact = [1];
  for (let i = 1; i <= n; i++) fact.push(fact[i - 1] * i);
  // Shapley weight of a coalition of size s not containing i: s! (n - s - 1)! / n!
  const weight = Array.from({ length: n }, (_, s) => (fact[s] * fact[n - s - 1]) / fact[n]);
  const phi = new Array<number>(n).fill(0);
  for (let mask = 0; mask < count; mask++) {
    let s = 0;
    for (let m = mask; m; m &= m - 1) s++;
    for (let i = 0; i < n; i++) if (!(mask & (1 << i))) phi[i] += weight[s] * (v[mask | (1 << i)] - v[mask]);
  }
  const vFull = v[count - 1];
  const vEmpty = v[0];
  return {
    phi, se: new Array<number>(n).fill(0), ciLow: phi.slice(), ciHigh: phi.slice(), vFull, vEmpty,
    efficiencyGap: relativeGap(phi, vFull, vEmpty), evaluations: count, permutations: 0, method: 'exact',
  };
}

export const tokenShapley: TokenMethod = {
  name: 'shapley',
  label: 'Shapley',
  help: 'Shapley values of the tokens (exact up to --exact-max tokens, else antithetic permutation sampling with standard errors)',
  async explain({ model, tokens, target, settings }: MethodInput): Promise<TokenAttribution> {
    const game = new TokenGame(model, tokens, { mask: settings.mask, target, batch: settings.batch });
    const r = game.players <= settings.exactMax
      ? await exactShapleyUpTo(game, settings.exactMax, EXACT_CHUNK)
      : await sampledShapley(game, { samples: settings.samples, batch: settings.batch, exact: false, seed: settings.seed });
    return { values: r.phi, se: r.se, ciLow: r.ciLow, ciHigh: r.ciHigh, vFull: r.vFull, vEmpty: r.vEmpty, gap: r.efficiencyGap, estimator: r.method, evaluations: r.evaluations };
  },
};
