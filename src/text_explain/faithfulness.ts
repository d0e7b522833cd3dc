/**
 * Deletion and insertion curves of token attributions (V. Petsiuk, A. Das and K. Saenko, "RISE",
 * BMVC 2018; for text, as in DeYoung et al., "ERASER", ACL 2020: comprehensiveness and
 * sufficiency). Deletion masks the tokens one by one in decreasing order of attribution and
 * follows the probability of the explained class; insertion starts from the fully masked
 * sentence and unmasks in the same order. The area under each curve (trapezoid rule over the
 * share of tokens, 0..1) is averaged over sentences with its standard error: a faithful
 * attribution gives a low deletion AUC and a high insertion AUC. A random order is the reference.
 */
import { createRng, deriveSeed } from '../core/rng.js';
import type { Sst2Classifier } from '../sst2/model.js';
import type { Vocabulary } from '../sst2/data.js';
import { encodeTokens, logOdds, maskTokens, type EncodedTokens, type MaskName } from './game.js';
import type { SentenceExplanation } from './explain.js';

export interface FaithfulnessMethod {
  /** A method's name, or `random`. */
  method: string;
  sentences: number;
  deletionAuc: number;
  deletionSe: number;
  insertionAuc: number;
  insertionSe: number;
  /**
   * Paired over sentences: mean (method - random) deletion and insertion AUC with its standard
   * error (smaller than the AUCs' own, which include how hard each sentence is).
   */
  deletionVsRandom: [number, number];
  insertionVsRandom: [number, number];
  /** Mean seconds per sentence of the method (null for random). */
  secondsPerSentence: number | null;
}

export interface FaithfulnessSummary {
  sentences: number;
  mask: MaskName;
  methods: FaithfulnessMethod[];
  /** Per sentence and method: the two AUCs (for paired comparisons between methods). */
  perSentence: { id: string; method: string; deletionAuc: number; insertionAuc: number }[];
}

/** Area under evenly spaced points over [0, 1] (trapezoid rule). */
export function trapezoidAuc(ys: ArrayLike<number>): number {
  const n = ys.length - 1;
  if (n <= 0) return ys[0] ?? 0;
  let s = 0;
  for (let k = 0; k < n; k++) s += (ys[k] + ys[k + 1]) / 2;
  return s / n;
}

/** Deletion and insertion curves (probability of the explained class) of one token order. */
export async function orderCurves(model: Sst2Classifier, tokens: EncodedTokens, order: readonly number[], target: 0 | 1, mask: MaskName, batch: number): Promise<{ deletion: number[]; insertion: number[] }> {
  const n = tokens.ids.length;
  const seqs: EncodedTokens[] = [];
  for (let k = 0; k <= n; k++) {
    const del = new Uint8Array(n).fill(1);
    const ins = new Uint8Array(n);
    for (let j = 0; j < k; j++) {
      del[order[j]] = 0;
      ins[order[j]] = 1;
    }
    seqs.push(maskTokens(tokens, del, mask), maskTokens(tokens, ins, mask));
  }
  const v = await logOdds(model, seqs, target, batch, (model.config.subwords ?? 0) > 0);
  const prob = (x: number) => 1 / (1 + Math.exp(-x));
  return { deletion: Array.from({ length: n + 1 }, (_, k) => prob(v[2 * k])), insertion: Array.from({ length: n + 1 }, (_, k) => prob(v[2 * k + 1])) };
}

const meanSe = (xs: readonly number[]): [number, number] => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : 0;
  return [m, sd / Math.sqrt(xs.length)];
};

/** Deletion/insertion AUCs of every method of the explanations, and of a random order. */
export async function measureFaithfulness(model: Sst2Classifier, vocab: Vocabulary, explanations: readonly SentenceExplanation[], opts: { mask: MaskName; batch: number; seed: number }): Promise<FaithfulnessSummary> {
  const methods = [...new Set(explanations.flatMap((e) => e.results.map((r) => r.method))), 'random'];
  const per = new Map(methods.map((m) => [m, { del: [] as number[], ins: [] as number[], secs: [] as number[] }]));
  const perSentence: FaithfulnessSummary['perSentence'] = [];
  for (const [k, e] of explanations.entries()) {
    const tokens = encodeTokens(e.tokens, vocab);
    const target = e.explained === 'positive' ? 1 : 0;
    for (const m of methods) {
      const r = e.results.find((x) => x.method === m);
      const order = r
        ? r.values.map((_, i) => i).sort((a, b) => r.values[b] - r.values[a] || a - b)
        : createRng(deriveSeed(opts.seed, 'explain-text-random-order', k)).permutation(e.tokens.length);
      const c = await orderCurves(model, tokens, order, target, opts.mask, opts.batch);
      const acc = per.get(m)!;
      acc.del.push(trapezoidAuc(c.deletion));
      acc.ins.push(trapezoidAuc(c.insertion));
      perSentence.push({ id: e.id, method: m, deletionAuc: acc.del[acc.del.length - 1], insertionAuc: acc.ins[acc.ins.length - 1] });
      if (r) acc.secs.push(r.seconds);
    }
  }
  return {
    sentences: explanations.length,
    mask: opts.mask,
    perSentence,
    methods: methods.map((m) => {
      const a = per.get(m)!;
      const rnd = per.get('random')!;
      const [deletionAuc, deletionSe] = meanSe(a.del);
      const [insertionAuc, insertionSe] = meanSe(a.ins);
      const deletionVsRandom = meanSe(a.del.map((x, i) => x - rnd.del[i]));
      const insertionVsRandom = meanSe(a.ins.map((x, i) => x - rnd.ins[i]));
      return { method: m, sentences: a.del.length, deletionAuc, deletionSe, insertionAuc, insertionSe, deletionVsRandom, insertionVsRandom, secondsPerSentence: a.secs.length ? a.secs.reduce((x, y) => x + y, 0) / a.secs.length : null };
    }),
  };
}
