/**
 * The sentence as a coalition game (explain/shapley.ts CoalitionGame): the players are the
 * sentence's tokens, and v(S) is the saved SST-2 model's log-odds of the explained class when the
 * tokens outside S are masked. Also the batched log-odds of arbitrary token-id sequences, which
 * leave-one-out and the faithfulness curves use.
 *
 * Masking (MASKS, `--mask`), for the model `dnnkit sst2` trains (data.ts: batches hold sentences
 * of equal length, so the networks never see `<pad>` while training, and they are trained on
 * sentences of every length):
 * - `drop` (the default): masked tokens are removed and the sentence shortens, an ordinary input
 *   for these networks, made only of trained word vectors. The empty coalition is the one-token
 *   sentence `<pad>` (a network cannot read zero tokens), the same near-neutral input for every
 *   sentence. Caveats: later tokens move to earlier positions, and a CNN window may span a gap.
 * - `oov`: a masked token becomes `<oov>` without subword vectors, "a word the model does not
 *   know", which word dropout (default 0.1) trains at random positions; length and positions stay.
 *   But a run of `<oov>`s is not neutral: the trained models read it as increasingly negative
 *   with its length, so v(empty) depends on the sentence's length (docs/TEXT_EXPLANATIONS.md).
 * - `pad`: a masked token becomes `<pad>` (id 0) without subword vectors. Its vector is never
 *   trained (never read), so it stays at its random initialisation: the LSTM reads it like any
 *   other input (no masking; max/mean pooling includes its states) and a CNN window over it sees
 *   an arbitrary small vector. The model does NOT ignore padding.
 */
import * as tf from '@tensorflow/tfjs';
import { encode, encodeSubwords, flattenSubwords, OOV_ID, PAD_ID, type Vocabulary } from '../sst2/data.js';
import type { Sst2Classifier } from '../sst2/model.js';
import type { SubwordTensors } from '../sst2/network.js';
import type { CoalitionGame } from '../explain/shapley.js';

/** Masking choices (see the file comment); the first is the default. */
export const MASKS = {
  drop: 'masked tokens are removed (a shorter sentence; the empty coalition is one <pad>)',
  oov: 'masked tokens become <oov> (no subword vectors): the unknown word that word dropout trains',
  pad: 'masked tokens become <pad> (no subword vectors): an untrained vector the networks read like a word',
} as const;
export type MaskName = keyof typeof MASKS;
export const MASK_NAMES = Object.keys(MASKS) as MaskName[];
export const DEFAULT_MASK: MaskName = 'drop';

/** An encoded sentence: one id and one list of n-gram ids per token (empty lists without subword vectors). */
export interface EncodedTokens {
  ids: Int32Array;
  subwords: Int32Array[];
}

/** Encodes tokens as the saved model reads them (ids and, with subword vectors, n-gram ids; no truncation here). */
export function encodeTokens(tokens: readonly string[], vocab: Vocabulary): EncodedTokens {
  return { ids: encode(tokens, vocab), subwords: encodeSubwords(tokens, vocab) };
}

/** The class whose log-odds is explained: 1 = positive, 0 = negative. */
export type TargetClass = 0 | 1;

const EMPTY = new Int32Array(0);

/**
 * The model's log-odds of `target` for each sequence (any lengths: grouped into equal-length
 * batches, at most `batch` per forward pass). log-odds(positive) is the model's logit (for an
 * ensemble the logit of the mean probability); log-odds(negative) is its negation.
 */
export async function logOdds(model: Sst2Classifier, seqs: readonly EncodedTokens[], target: TargetClass, batch: number, usesSubwords: boolean): Promise<Float64Array> {
  const out = new Float64Array(seqs.length);
  const byLength = new Map<number, number[]>();
  seqs.forEach((s, i) => {
    if (s.ids.length === 0) throw new RangeError('logOdds: a sequence has no tokens');
    byLength.set(s.ids.length, [...(byLength.get(s.ids.length) ?? []), i]);
  });
  for (const [time, all] of [...byLength].sort((a, b) => a[0] - b[0])) {
    for (let start = 0; start < all.length; start += batch) {
      const idx = all.slice(start, start + batch);
      const logits = tf.tidy(() => {
        const flat = new Int32Array(idx.length * time);
        idx.forEach((i, k) => flat.set(seqs[i].ids, k * time));
        let subwords: SubwordTensors | undefined;
        if (usesSubwords) {
          const f = flattenSubwords(idx.map((i) => seqs[i].subwords));
          subwords = { ids: tf.tensor1d(f.ids, 'int32'), positions: tf.tensor1d(f.positions, 'int32'), weights: tf.tensor1d(f.weights, 'float32') };
        }
        return model.forward(tf.tensor2d(flat, [idx.length, time], 'int32'), { training: false, subwords }).logits;
      });
      const v = await logits.data();
      logits.dispose();
      idx.forEach((i, k) => (out[i] = target === 1 ? v[k] : -v[k]));
    }
  }
  return out;
}

/** The sentence with the tokens outside `coalition` (0/1 per token) masked as `mask` says. */
export function maskTokens(tokens: EncodedTokens, coalition: Uint8Array, mask: MaskName): EncodedTokens {
  if (mask === 'drop') {
    const keep = [...coalition.keys()].filter((i) => coalition[i]);
    if (keep.length === 0) return { ids: Int32Array.of(PAD_ID), subwords: [EMPTY] };
    return { ids: Int32Array.from(keep, (i) => tokens.ids[i]), subwords: keep.map((i) => tokens.subwords[i]) };
  }
  const filler = mask === 'pad' ? PAD_ID : OOV_ID;
  return {
    ids: Int32Array.from(tokens.ids, (id, i) => (coalition[i] ? id : filler)),
    subwords: tokens.subwords.map((s, i) => (coalition[i] ? s : EMPTY)),
  };
}

/** Settings of a TokenGame. */
export interface TokenGameOptions {
  mask: MaskName;
  target: TargetClass;
  /** Sequences per forward pass. */
  batch: number;
}

/** A sentence's tokens as players; v(S) = log-odds of the target class with the others masked. */
export class TokenGame implements CoalitionGame {
  readonly players: number;
  private readonly usesSubwords: boolean;

  constructor(private readonly model: Sst2Classifier, private readonly tokens: EncodedTokens, private readonly opts: TokenGameOptions) {
    this.players = tokens.ids.length;
    this.usesSubwords = (model.config.subwords ?? 0) > 0;
  }

  values(coalitions: readonly Uint8Array[]): Promise<Float64Array> {
    return logOdds(this.model, coalitions.map((c) => maskTokens(this.tokens, c, this.opts.mask)), this.opts.target, this.opts.batch, this.usesSubwords);
  }
}
