/**
 * `dnnkit sst2 predict --model RUN "a sentence" ...`: P(positive) per sentence. Sentences come
 * from the arguments, from `--file F` (one per line), or from standard input with `-`.
 */
import { promises as fsp } from 'node:fs';
import { initBackend } from '../core/backend.js';
import type { CommonOptions } from '../core/command.js';
import { UsageError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { encodeSentences, tokenizeText } from './data.js';
import { loadClassifier } from './saved.js';
import { predictSplit } from './evaluate.js';

export interface PredictOptions {
  /** The run folder of `dnnkit sst2`, or its model/ folder (model.json, weights.bin, vocab.json). */
  model: string;
  /** A text file with one sentence per line (blank lines skipped); '-' reads standard input. */
  file?: string;
}

/** Lines of text, blank ones dropped (CRLF read as LF). */
function sentenceLines(text: string): string[] {
  return text.split('\n').map((l) => l.replace(/\r$/, '').trim()).filter((l) => l !== '');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The sentences to predict: the arguments ('-' alone = standard input) plus --file's lines. */
export async function gatherSentences(args: string[], file?: string): Promise<string[]> {
  const fromStdin = args.length === 1 && args[0] === '-';
  const sentences = fromStdin ? sentenceLines(await readStdin()) : [...args];
  if (file !== undefined) {
    let text: string;
    try {
      text = file === '-' ? await readStdin() : await fsp.readFile(file, 'utf8');
    } catch {
      throw new UsageError(`--file ${file} cannot be read; give a text file with one sentence per line`);
    }
    sentences.push(...sentenceLines(text));
  }
  if (sentences.length === 0) throw new UsageError(`no sentences: give them as arguments, with --file F (one per line), or '-' to read standard input`);
  return sentences;
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
  const tokens = sentences.map(tokenizeText);
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
    const log = createLogger(opts.json); // the lines are the result: stdout, none with --json (the JSON holds them)
    for (const p of predictions) log.output(`${p.positive.toFixed(4)}\t${p.sentence}`);
    return { predictions, backend: backend.name };
  } finally {
    model.dispose();
  }
}

/** The former name of runSst2Predict. */
export const runPredict = runSst2Predict;
