/**
 * The outputs of a dnnkit sst2 run: metrics.csv after every epoch; at the end the kept model
 * evaluated on dev and test, the features of one layer (features.csv) with their 2-D
 * projection, the learning curves, and last run.json.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../core/backend.js';
import { writeCsv } from '../core/csv.js';
import { writeChart } from '../core/plot.js';
import { buildRunRecord, writeRunRecord, type EpochMetrics } from '../core/run_record.js';
import { projectFeatures, type ProjectionSummary } from '../project/index.js';
import type { EncodedSplit } from './batches.js';
import { SENTIMENT_NAMES, VOCAB_FILE, type Sst2Data } from './data.js';
import { lossAndAccuracy, predictSplit } from './evaluate.js';
import { curvesSpec } from './figures.js';
import type { DevBest, Sst2Training } from './loop.js';
import { describeModel, type Sst2RunOptions, type Sst2Summary } from './options.js';
import { loadClassifier, MODEL_JSON, WEIGHTS_BIN } from './saved.js';

/** Writes metrics.csv (all epochs so far; with --early-stopping network a dev accuracy column per network). */
export async function writeMetricsCsv(outDir: string, rows: EpochMetrics<'dev'>[], networks: number | undefined): Promise<void> {
  const nets = Array.from({ length: networks ?? 0 }, (_, k) => k);
  await writeCsv(path.join(outDir, 'metrics.csv'), ['epoch', 'loss', 'acc', 'dev_loss', 'dev_acc', 'seconds', ...nets.map((k) => `dev_acc_net${k + 1}`)],
    rows.map((r) => [r.epoch, r.loss, r.acc, r.dev_loss, r.dev_acc, r.seconds, ...nets.map((k) => r.networks?.[k] ?? '')]));
}

/** The kept model's results on dev and test, and the projection of its features (null with --embed-plot none). */
export interface FinalEvaluation {
  dev: { loss: number; acc: number };
  /** null when the test split has no labels. */
  test: { loss: number; acc: number } | null;
  parameters: number;
  projection: ProjectionSummary | null;
}

/**
 * Evaluates the kept (best-dev) model, read back from disk (what the user gets), on dev and
 * test; writes features.csv (layer --layer) and with --embed-plot its projection.
 */
export async function evaluateKept(outDir: string, opts: Sst2RunOptions, splits: { dev: EncodedSplit; test: EncodedSplit; testLabelled: boolean },
  networks: number, log: { info(line: string): void }): Promise<FinalEvaluation> {
  const { model } = await loadClassifier(path.join(outDir, 'model'));
  try {
    const devOut = await predictSplit(model, splits.dev, 128, opts.layer);
    const testOut = await predictSplit(model, splits.test, 128, opts.layer);
    const featureRows: (string | number)[][] = [];
    const dim = devOut.features[0]?.length ?? 0;
    // Label names, not 0/1: `dnnkit project features.csv` and the report show "negative/positive".
    const add = (name: string, split: EncodedSplit, out: { probs: Float32Array; features: Float32Array[] }) => {
      split.examples.forEach((e, i) => featureRows.push([e.id, name, e.label === null ? '' : SENTIMENT_NAMES[e.label], SENTIMENT_NAMES[out.probs[i] >= 0.5 ? 1 : 0], ...Array.from(out.features[i])]));
    };
    add('dev', splits.dev, devOut);
    add('test', splits.test, testOut);
    await writeCsv(path.join(outDir, 'features.csv'), ['id', 'split', 'label', 'predicted', ...Array.from({ length: dim }, (_, j) => `f${j}`)], featureRows);
    log.info(`features: layer '${opts.layer}', ${dim} dimensions, ${featureRows.length} sentences -> features.csv`);
    let projection: ProjectionSummary | null = null;
    if (opts.embedPlot !== 'none') {
      const labelled = featureRows.filter((r) => r[2] !== '');
      projection = await projectFeatures({
        points: labelled.map((r) => r.slice(4) as number[]),
        labels: labelled.map((r) => r[2]),
        predicted: labelled.map((r) => r[3]),
        method: opts.embedPlot,
        outDir,
        title: `SST-2 ${splits.testLabelled ? 'dev+test' : 'dev'} sentences, layer '${opts.layer}' (${dim}-d${networks > 1 ? `: ${networks} networks concatenated` : ''})`,
        seed: opts.seed,
        quiet: opts.json || opts.quiet,
      });
    }
    return {
      dev: lossAndAccuracy(devOut.probs, splits.dev.labels),
      test: splits.testLabelled ? lossAndAccuracy(testOut.probs, splits.test.labels) : null,
      parameters: model.parameterCount,
      projection,
    };
  } finally {
    model.dispose();
  }
}

/** The --json summary of a finished run (`final` undefined: an interrupted one, with partial fields). */
export function sst2Summary(run: Sst2Training, data: Sst2Data, backend: BackendInfo, outDir: string, started: number, final?: FinalEvaluation): Sst2Summary {
  const { state, opts } = run;
  const best: DevBest = state.best;
  if (!final) {
    return {
      devAccuracy: best.devAcc, testAccuracy: null, testLoss: null, epochs: state.rows.length, bestEpoch: best.epoch, backend: backend.name,
      layout: data.layout, vocabularySize: run.vocab.tokens.length, maxLen: run.vocab.maxLen, parameters: run.model.parameterCount,
      trainSentencesPerSecond: NaN, seconds: (Date.now() - started) / 1000, seed: opts.seed, outDir, projection: null, interrupted: true,
    };
  }
  return {
    devAccuracy: final.dev.acc,
    testAccuracy: final.test ? final.test.acc : null,
    testLoss: final.test ? final.test.loss : null,
    epochs: state.rows.length,
    bestEpoch: best.epoch,
    ...(run.perNetwork ? { networkBestEpochs: state.networkBest.map((b) => b.epoch) } : {}),
    backend: backend.name,
    layout: data.layout,
    vocabularySize: run.vocab.tokens.length,
    maxLen: run.vocab.maxLen,
    parameters: final.parameters,
    trainSentencesPerSecond: state.trainSentences / Math.max(state.trainSeconds, 1e-9),
    seconds: (Date.now() - started) / 1000,
    seed: opts.seed,
    outDir,
    projection: final.projection,
  };
}

/** Writes the learning curves, then run.json last (it describes the files above, with their SHA-256). */
export async function writeSst2Record(run: Sst2Training, data: Sst2Data, trainCount: number, backend: BackendInfo, outDir: string, summary: Sst2Summary): Promise<void> {
  const { opts, state } = run;
  await writeChart(path.join(outDir, 'curves'), curvesSpec(state.rows, state.best.epoch,
    `SST-2 ${describeModel(opts)}${opts.subwords > 0 ? ', subword vectors' : ''}${opts.adversarial > 0 ? `, adversarial ${opts.adversarial}` : ''}, seed ${opts.seed}`, run.perNetwork));
  const projection = summary.projection;
  const outputs = [
    ...[MODEL_JSON, WEIGHTS_BIN, VOCAB_FILE].map((f) => path.join('model', f)), 'metrics.csv', 'features.csv', 'curves.svg', 'curves.png',
    ...(projection ? ['projection-summary.csv', ...projection.results.flatMap((r) => r.files.map((f) => path.relative(outDir, f)))] : []),
  ];
  // run.json last, in the one schema of docs/run-record.schema.json; `result` is the --json summary.
  await writeRunRecord(outDir, buildRunRecord({
    command: 'sst2', started: new Date(Date.now() - summary.seconds * 1000), seed: opts.seed, result: summary,
    settings: {
      ...run.settings, model: run.config,
      data: { dir: opts.dataDir, layout: data.layout, train: trainCount, dev: run.dev.ids.length, test: data.test.examples.length, testLabelled: data.test.labelled },
    },
  }), outputs);
}
