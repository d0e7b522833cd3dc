/** `dnnkit sst2 predict --model DIR "a sentence" ...`: P(positive) per sentence. */
import { initBackend } from '../core/backend.js';
import type { CommonOptions } from '../core/command.js';
import { UsageError } from '../core/errors.js';
import { encodeSentences, tokenize } from './data.js';
import { loadClassifier } from './saved.js';
import { predictSplit } from './evaluate.js';

export interface PredictOptions {
  /** Directory with model.json, weights.bin and vocab.json (the model/ folder of a run). */
  model: string;
}

export interface Prediction {
  sentence: string;
  /** P(positive) in [0, 1]. */
  positive: number;
  label: 'positive' | 'negative';
  /** Words the model has no vector of their own for (mapped to <oov>; with subword vectors they still get their n-grams'). */
  unknownWords: string[];
}

/** Predicts each sentence; prints `P(positive)<TAB>sentence` lines on stdout (without --json). */
export async function runSst2Predict(opts: PredictOptions & Pick<CommonOptions, 'backend' | 'json'>, sentences: string[]): Promise<{ predictions: Prediction[]; backend: string }> {
  const tokens = sentences.map(tokenize);
  const empty = tokens.findIndex((t) => t.length === 0);
  if (sentences.length === 0 || empty >= 0) throw new UsageError(`sentence ${empty + 1} is empty; give at least one word per sentence`);
  const backend = await initBackend(opts.backend);
  const { model, vocab } = await loadClassifier(opts.model);
  try {
    const { probs } = await predictSplit(model, encodeSentences(tokens, vocab), 64);
    const predictions = sentences.map((sentence, i) => ({
      sentence,
      positive: probs[i],
      label: probs[i] >= 0.5 ? 'positive' as const : 'negative' as const,
      unknownWords: tokens[i].filter((t) => !vocab.index.has(t)),
    }));
    if (!opts.json) for (const p of predictions) process.stdout.write(`${p.positive.toFixed(4)}\t${p.sentence}\n`);
    return { predictions, backend: backend.name };
  } finally {
    model.dispose();
  }
}

/** The former name of runSst2Predict. */
export const runPredict = runSst2Predict;
