/**
 * Tiny SST-2 models with fixed weights for the text_explain tests: built from a seed (no
 * training) and scaled so that the words move the log-odds by whole units, with a vocabulary of
 * a few sentences; saved as `dnnkit sst2` saves them when a test needs a model folder.
 */
import * as tf from '@tensorflow/tfjs';
import { buildVocabulary, type Example, type Vocabulary } from '../../src/sst2/data.js';
import { createClassifier, type Sst2Classifier, type Sst2ModelConfig } from '../../src/sst2/model.js';
import { saveClassifier } from '../../src/sst2/saved.js';

export const TRAIN_SENTENCES = [
  'a gorgeous witty and seductive movie',
  'the plot is dull and the script is worse',
  'a moving story with superb acting',
  'boring tedious and far too long',
  'the movie is a gorgeous mess',
];

const examples: Example[] = TRAIN_SENTENCES.map((s, i) => ({ id: `train-${i}`, tokens: s.split(' '), label: (i % 2 === 0 ? 1 : 0) as 0 | 1, line: i + 1 }));

/** The vocabulary of TRAIN_SENTENCES (every word, maxLen 60), with subword vectors when asked. */
export function tinyVocabulary(subwords: boolean): Vocabulary {
  return buildVocabulary(examples, 1, 60, 0, subwords ? 1 : 0);
}

export type TinyKind = 'lstm' | 'ensemble';

/**
 * `lstm`: one left-to-right LSTM (8 units, max pooling, no subwords); `ensemble`: a
 * bidirectional LSTM and a CNN with subword vectors. Weights from `seed`, times `scale`.
 */
export function tinyModel(kind: TinyKind, seed = 7, scale = 6): { model: Sst2Classifier; vocab: Vocabulary } {
  const vocab = tinyVocabulary(kind === 'ensemble');
  const config: Sst2ModelConfig = kind === 'lstm'
    ? { vocabSize: vocab.tokens.length, embeddingDim: 8, units: 8, layers: 1, bidirectional: false, dropout: 0, pooling: 'max' }
    : { vocabSize: vocab.tokens.length, embeddingDim: 8, units: 8, layers: 1, bidirectional: true, dropout: 0, pooling: 'max', members: 1, cnnMembers: 1, cnnFilters: 4, cnnWidths: [2, 3], subwords: vocab.subwords.length };
  const base = createClassifier(config, seed);
  const scaled = tf.tidy(() => Object.fromEntries(Object.entries(base.namedWeights()).map(([k, v]) => [k, tf.mul(v, scale)])));
  base.dispose();
  const model = createClassifier(config, seed, scaled);
  tf.dispose(Object.values(scaled));
  return { model, vocab };
}

/** Saves a tiny model to `dir` (model.json, weights.bin, vocab.json). */
export async function saveTinyModel(kind: TinyKind, dir: string): Promise<void> {
  const { model, vocab } = tinyModel(kind);
  try {
    await saveClassifier(model, vocab, dir, { note: 'text_explain test fixture' });
  } finally {
    model.dispose();
  }
}
