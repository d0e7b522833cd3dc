/**
 * Leave-one-out occlusion (M. D. Zeiler and R. Fergus 2014, for words J. Li, W. Monroe and
 * D. Jurafsky, "Understanding Neural Networks through Representation Erasure", 2016):
 *
 *   a_i = v(N) - v(N \ {i})
 *
 * with v the log-odds of the explained class and token i masked as --mask says (game.ts): n + 1
 * forward passes. Not efficient: the values need not add up to v(N) - v(empty).
 */
import { logOdds, maskTokens } from './game.js';
import type { MethodInput, TokenAttribution, TokenMethod } from './method.js';

export const leaveOneOut: TokenMethod = {
  name: 'loo',
  label: 'Leave-one-out',
  help: 'leave-one-out occlusion: the drop in log-odds when one token is masked',
  async explain({ model, tokens, target, settings }: MethodInput): Promise<TokenAttribution> {
    const n = tokens.ids.length;
    const all = new Uint8Array(n).fill(1);
    const seqs = [maskTokens(tokens, all, settings.mask), maskTokens(tokens, new Uint8Array(n), settings.mask)];
    for (let i = 0; i < n; i++) {
      const c = all.slice();
      c[i] = 0;
      seqs.push(maskTokens(tokens, c, settings.mask));
    }
    const v = await logOdds(model, seqs, target, settings.batch, (model.config.subwords ?? 0) > 0);
    const values = Array.from({ length: n }, (_, i) => v[0] - v[i + 2]);
    const zeros = new Array<number>(n).fill(0);
    return { values, se: zeros, ciLow: values.slice(), ciHigh: values.slice(), vFull: v[0], vEmpty: v[1], gap: null, estimator: 'occlusion', evaluations: n + 2 };
  },
};
