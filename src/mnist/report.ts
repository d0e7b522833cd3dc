/**
 * The outputs of a finished train-mnist run: the model, metrics.csv, the confusion matrix, the
 * figures, the projected features, and last run.json (the settings actually used, the backend,
 * versions, results and every output's SHA-256).
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../core/backend.js';
import { writeCsv } from '../core/csv.js';
import { saveModel } from '../core/model_io.js';
import { writeRunRecord, type EpochMetrics } from '../core/run_record.js';
import type { MnistData } from './data.js';
import type { Evaluation } from './evaluate.js';
import { projectTestFeatures } from './features.js';
import { writeConfusionPng, writeCurvesPng, writeErrorsPng } from './figures.js';
import { MNIST_CNN_DEFAULTS } from './model.js';
import type { TrainMnistSettings } from './options.js';

/** Writes the model, metrics, confusion matrix, figures and (with embedPlot) the projections; returns the files written. */
export async function writeMnistOutputs(outDir: string, model: tf.LayersModel, history: EpochMetrics<'val'>[], test: Evaluation,
  data: MnistData, settings: TrainMnistSettings, quiet: boolean): Promise<string[]> {
  const files: string[] = [];
  const out = (name: string) => {
    files.push(name);
    return path.join(outDir, name);
  };
  await saveModel(model, outDir);
  files.push('model.json', 'weights.bin');
  await writeCsv(out('metrics.csv'), ['epoch', 'loss', 'acc', 'val_loss', 'val_acc', 'seconds', 'samples_per_sec'],
    history.map((h) => [h.epoch, h.loss, h.acc, h.val_loss, h.val_acc, h.seconds, h.samples_per_sec]));
  await writeCsv(out('confusion.csv'), ['true\\predicted', ...Array.from({ length: 10 }, (_, i) => String(i))],
    test.confusion.map((row, i) => [i, ...row]));
  await writeConfusionPng(out('confusion.png'), test.confusion, test.accuracy);
  await writeCurvesPng(out('curves.png'), history);
  await writeErrorsPng(out('errors.png'), data.test, test.errors);
  if (settings.embedPlot && settings.embedPlot !== 'none') {
    files.push(...await projectTestFeatures(model, data.test, outDir, settings.embedPlot, settings.seed, quiet));
  }
  return files;
}

/** What run.json records besides the files: the run's counts, results and timing. */
export interface MnistRunFacts {
  backend: BackendInfo;
  dataDir: string;
  resumedFrom: string | null;
  trainSamples: number;
  validationSamples: number;
  test: Evaluation;
  trainSamplesPerSec: number;
  wallSeconds: number;
}

/** Writes run.json last: it describes the files above (with their SHA-256). */
export async function writeMnistRunRecord(outDir: string, s: TrainMnistSettings, facts: MnistRunFacts, files: string[]): Promise<void> {
  await writeRunRecord(outDir, {
    command: 'train-mnist',
    settings: {
      epochs: s.epochs, batchSize: s.batchSize, lr: s.lr, lrDecay: s.lrDecay, augment: s.augment,
      validationSplit: s.validationSplit, limit: s.limit ?? null, seed: s.seed,
      dataDir: facts.dataDir, model: MNIST_CNN_DEFAULTS, resumedFrom: facts.resumedFrom,
    },
    backend: facts.backend,
    versions: { dnnkit: process.env.npm_package_version ?? null, tfjs: tf.version.tfjs, node: process.version },
    trainSamples: facts.trainSamples,
    validationSamples: facts.validationSamples,
    testAccuracy: facts.test.accuracy,
    testLoss: facts.test.loss,
    trainSamplesPerSec: facts.trainSamplesPerSec,
    wallSeconds: facts.wallSeconds,
    finishedAt: new Date().toISOString(),
  }, files);
}
