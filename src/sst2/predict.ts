/**
 * `dnnkit sst2 predict --model RUN "a sentence" ...`: P(positive) per sentence. Sentences come
 * from the arguments, from `--file F` (one per line), or from standard input with `-`. With
 * `--shard K/N --out DIR` it predicts one shard of the sentences and writes
 * predictions.shard-K-of-N.csv (index,sentence,positive,label,unknown_words), its item records and
 * run.shard-K-of-N.json into DIR, for `dnnkit merge DIR`.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../core/backend.js';
import type { CommonOptions } from '../core/command.js';
import { UsageError } from '../core/errors.js';
import { prepareOutDir } from '../core/fsutil.js';
import { createLogger } from '../core/log.js';
import { buildRunRecord, writeRunRecord } from '../core/run_record.js';
import {
  beginShardRun, doneItems, emptyShardWarning, fingerprint, itemRecordPath, parseShard, shardItems, shardLockName, writeItemRecord, writeTable,
  type Shard, type TableRow,
} from '../core/shard.js';
import { encodeSentences, tokenizeText } from './data.js';
import { loadClassifier } from './saved.js';
import { predictSplit } from './evaluate.js';

export interface PredictOptions {
  /** The run folder of `dnnkit sst2`, or its model/ folder (model.json, weights.bin, vocab.json). */
  model: string;
  /** A text file with one sentence per line (blank lines skipped); '-' reads standard input. */
  file?: string;
  /** `K/N` (1-based), `auto` or `auto/N`: predict one shard of the sentences and write its table to `out` (core/shard.ts). */
  shard?: string;
  /** With `shard`: the folder of the predictions tables, item records and run records. */
  out?: string;
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

/** What sst2 predict returns (the --json summary). */
export interface PredictResult {
  predictions: Prediction[];
  backend: string;
  /** With --shard: the shard (1-based), the sentences in all shards, those skipped as done, and the table written. */
  shard?: { index: number; count: number; source: Shard['source'] };
  totalSentences?: number;
  skipped?: number;
  table?: string;
}

/** The predictions table sst2 predict --shard writes (merged by dnnkit merge). */
export const SST2_PREDICTIONS_CSV = 'predictions.csv';
/** Names the item records (items/sentence-000001.predict.json). */
const PREDICT_TAG = 'predict';

/** Predicts each sentence; prints `P(positive)<TAB>sentence` lines on stdout (without --json). */
export async function runSst2Predict(opts: PredictOptions & Pick<CommonOptions, 'backend' | 'json'>, sentences: string[]): Promise<PredictResult> {
  const shard = opts.shard === undefined ? undefined : parseShard(opts.shard);
  if (shard && !opts.out) throw new UsageError('sst2 predict --shard writes its predictions to a folder: give --out DIR');
  const tokens = sentences.map(tokenizeText);
  const empty = tokens.findIndex((t) => t.length === 0);
  if (sentences.length === 0 || empty >= 0) throw new UsageError(`sentence ${empty + 1} is empty; give at least one word per sentence`);
  const backend = await initBackend(opts.backend);
  const { model, vocab } = await loadClassifier(opts.model);
  const log = createLogger(opts.json); // the lines are the result: stdout, none with --json (the JSON holds them)
  /** Predicts the sentences `which` (indices into `sentences`) in batches of equal length. */
  const predict = async (which: readonly number[]): Promise<Prediction[]> => {
    const { probs } = await predictSplit(model, encodeSentences(which.map((i) => tokens[i]), vocab), 64);
    return which.map((i, k) => ({
      sentence: sentences[i],
      positive: probs[k],
      label: probs[k] >= 0.5 ? 'positive' as const : 'negative' as const,
      unknownWords: tokens[i].filter((t) => !vocab.index.has(t)),
    }));
  };
  try {
    if (!shard) {
      const predictions = await predict(sentences.map((_, i) => i));
      for (const p of predictions) log.output(`${p.positive.toFixed(4)}\t${p.sentence}`);
      return { predictions, backend: backend.name };
    }
    return await predictShard(shard, opts as PredictOptions & { out: string } & Pick<CommonOptions, 'json'>, sentences, predict, backend.name);
  } finally {
    model.dispose();
  }
}

/**
 * One shard of the sentences: item i is sentence i + 1 (its record items/sentence-<i+1>.predict.json
 * holds its table row). The fingerprint covers the model and every sentence, so a changed input
 * file is predicted anew rather than matched by line number.
 */
async function predictShard(shard: Shard, opts: PredictOptions & { out: string } & Pick<CommonOptions, 'json'>, sentences: string[],
  predict: (which: readonly number[]) => Promise<Prediction[]>, backend: string): Promise<PredictResult> {
  const started = new Date();
  const log = createLogger(opts.json);
  const items = sentences.map((_, i) => ({ key: String(i + 1), name: `sentence-${String(i + 1).padStart(6, '0')}`, i }));
  const mine = shardItems(items, shard);
  const fpr = fingerprint({ tag: PREDICT_TAG, model: path.resolve(opts.model), sentences });
  const outDir = await prepareOutDir(opts.out, { lock: shardLockName(shard) });
  const done = await doneItems(outDir, mine, PREDICT_TAG, fpr, shard);
  const { recordName, tableName, written } = await beginShardRun(outDir, { shard, command: 'sst2 predict', tag: PREDICT_TAG, table: SST2_PREDICTIONS_CSV, fingerprint: fpr, items });
  const empty = emptyShardWarning(shard, items.length, 'sentences');
  if (empty) log.warn(empty);
  log.info(`${mine.length} of ${items.length} sentences (shard ${shard.index}/${shard.count}; ${done.size} done before) -> ${outDir}`);
  const rows: TableRow[] = [];
  const predictions: Prediction[] = [];
  for (const it of mine) {
    const rec = done.get(it.name);
    let p: Prediction;
    if (rec) {
      log.info(`sentence ${it.key}: skipped, done by an earlier run (${itemRecordPath(it.name, PREDICT_TAG)})`);
      p = rec.entries[0] as Prediction;
      rows.push(...rec.rows);
      written.push(itemRecordPath(it.name, PREDICT_TAG));
    } else {
      // One sentence per forward pass: a batch's sums depend on which sentences share it, and a
      // shard's batches differ from another sharding's (1e-7 apart); alone, a sentence's
      // probability is the same bits whatever the sharding.
      [p] = await predict([it.i]);
      const row = { index: it.i + 1, sentence: p.sentence, positive: p.positive, label: p.label, unknown_words: p.unknownWords.join(' ') };
      rows.push(row);
      written.push(await writeItemRecord(outDir, PREDICT_TAG, { key: it.key, name: it.name, fingerprint: fpr, files: [], rows: [row], entries: [p], seconds: 0 }));
    }
    predictions.push(p);
    log.output(`${p.positive.toFixed(4)}\t${p.sentence}`);
  }
  await writeTable(path.join(outDir, tableName), rows);
  written.push(tableName);
  const result: PredictResult = { predictions, backend, shard: { ...shard }, totalSentences: sentences.length, skipped: done.size, table: path.join(outDir, tableName) };
  const settings = { model: opts.model, file: opts.file ?? null, shard: `${shard.index}/${shard.count}`, sentences: sentences.length };
  await writeRunRecord(outDir, buildRunRecord({ command: 'sst2 predict', started, seed: null, settings, result }), written, recordName);
  return result;
}

/** The former name of runSst2Predict. */
export const runPredict = runSst2Predict;
