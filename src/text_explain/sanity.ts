/**
 * Model-randomisation sanity check (J. Adebayo et al., "Sanity Checks for Saliency Maps",
 * NeurIPS 2018): the same sentences are explained again with every weight of the model replaced
 * by a fresh initialisation (createClassifier of the same configuration, seeded), and each
 * method's attributions are compared with the trained model's by Spearman rank correlation. An
 * attribution that depends on what the model learned changes: the correlation is near 0 (a
 * method that mostly reflects the input, not the model, keeps a high correlation).
 */
import { deriveSeed } from '../core/rng.js';
import type { Vocabulary } from '../sst2/data.js';
import { createClassifier, type Sst2Classifier } from '../sst2/model.js';
import type { ExplainTextSettings, SentenceExplanation } from './explain.js';
import { explainWithModel } from './explain.js';

/** Ranks (average ranks for ties), 1-based. */
function ranks(xs: readonly number[]): number[] {
  const order = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && xs[order[j + 1]] === xs[order[i]]) j++;
    for (let k = i; k <= j; k++) r[order[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman's rank correlation (Pearson correlation of the ranks); NaN when either is constant. */
export function spearman(a: readonly number[], b: readonly number[]): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (ra.length + 1) / 2;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < ra.length; i++) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) ** 2;
    sbb += (rb[i] - mean) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

export interface SanityMethod {
  method: string;
  /** Mean Spearman correlation over the sentences with at least 3 tokens and non-constant values. */
  meanSpearman: number;
  se: number;
  sentences: number;
}

/** Explains the sentences again with randomised weights and correlates per method. */
export async function randomisationCheck(model: Sst2Classifier, vocab: Vocabulary, trained: readonly SentenceExplanation[], settings: ExplainTextSettings): Promise<SanityMethod[]> {
  const random = createClassifier(model.config, deriveSeed(settings.seed, 'explain-text-randomised-weights'));
  let again: SentenceExplanation[];
  try {
    // The same class as the trained model explained, so that only the weights differ.
    again = [];
    for (const e of trained) {
      const [r] = await explainWithModel(random, vocab, [e.tokens.join(' ')], { ...settings, target: e.explained }, [e.id]);
      again.push(r);
    }
  } finally {
    random.dispose();
  }
  return settings.methods.map((m) => {
    const rs: number[] = [];
    trained.forEach((e, k) => {
      if (e.tokens.length < 3) return;
      const a = e.results.find((r) => r.method === m)!.values;
      const b = again[k].results.find((r) => r.method === m)!.values;
      const rho = spearman(a, b);
      if (Number.isFinite(rho)) rs.push(rho);
    });
    const mean = rs.reduce((x, y) => x + y, 0) / Math.max(1, rs.length);
    const sd = rs.length > 1 ? Math.sqrt(rs.reduce((x, y) => x + (y - mean) ** 2, 0) / (rs.length - 1)) : 0;
    return { method: m, meanSpearman: rs.length ? mean : NaN, se: rs.length ? sd / Math.sqrt(rs.length) : NaN, sentences: rs.length };
  });
}
