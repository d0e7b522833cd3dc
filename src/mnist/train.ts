/**
 * `dnnkit train-mnist`: trains the MNIST CNN with Adam, evaluates it on the 10,000 test digits
 * and writes the model, per-epoch metrics, a confusion matrix, learning curves, a grid of
 * misclassified digits and run.json (the settings actually used). The phases are in loop.ts
 * (training), checkpoint.ts (--resume), evaluate.ts and report.ts (outputs); this file runs them.
 */
import { initBackend } from '../core/backend.js';
import { checkResumeOptions, refuseOrDiscardCheckpoint, removeCheckpoint } from '../core/checkpoint.js';
import { prepareOutDir } from '../core/fsutil.js';
import { watchInterrupts } from '../core/interrupt.js';
import { createLogger } from '../core/log.js';
import { createProgress } from '../core/progress.js';
import { seedGlobalRandom } from '../core/rng.js';
import { buildRunRecord, invalidateRunRecord, writeRunRecord } from '../core/run_record.js';
import { readMnistCheckpoint } from './checkpoint.js';
import { headOfSplit, loadMnist, splitIndices } from './data.js';
import { evaluateModel, type Evaluation } from './evaluate.js';
import { disposeTraining, divergedError, startTraining, trainEpochs } from './loop.js';
import { trainMnistSettings, type TrainMnistOptions, type TrainMnistSummary } from './options.js';
import { writeMnistOutputs } from './report.js';
import { MNIST_CNN_DEFAULTS } from './model.js';

export { TRAIN_MNIST_DEFAULTS, type TrainMnistOptions, type TrainMnistSummary } from './options.js';
export { makeBatch, splitIndices } from './data.js';

/** Trains, evaluates and writes every output; returns the --json summary. */
export async function runTrainMnist(cliOpts: TrainMnistOptions): Promise<TrainMnistSummary> {
  const started = Date.now();
  const log = createLogger(cliOpts.json);
  const resumed = cliOpts.resume !== undefined ? await readMnistCheckpoint(cliOpts.resume) : undefined;
  if (resumed) {
    checkResumeOptions(cliOpts.resume!, cliOpts.givenOptions, cliOpts as unknown as Record<string, unknown>, resumed.state.settings as unknown as Record<string, unknown>, resumed.outDir);
  }
  // A resumed run continues with the settings it started with.
  const opts: TrainMnistOptions = resumed
    ? { ...resumed.state.settings, out: resumed.outDir, json: cliOpts.json, debug: cliOpts.debug, backend: cliOpts.backend }
    : cliOpts;
  // Validate and load everything before anything is written to --out.
  const data = await loadMnist(opts.dataDir);
  const train = opts.limit !== undefined ? headOfSplit(data.train, opts.limit) : data.train;
  const { train: trainIdx, val: valIdx } = splitIndices(train.count, opts.validationSplit);
  if (resumed) resumed.checker.int('batch', 0, Math.ceil(trainIdx.length / opts.batchSize));
  const outDir = await prepareOutDir(opts.out);
  // An interrupted run's checkpoint is kept unless --restart; the previous run's record goes
  // before any output is replaced (run.json is written last).
  if (!resumed) await refuseOrDiscardCheckpoint(outDir, { outArg: opts.out, command: 'train-mnist', restart: opts.restart });
  await invalidateRunRecord(outDir);
  const backend = await initBackend(opts.backend);
  if (backend.warning) log.warn(backend.warning);
  log.info(`backend ${backend.name}: ${backend.reason}`);
  log.info(`MNIST from ${data.dir}: ${trainIdx.length} training, ${valIdx.length} validation, ${data.test.count} test images`);

  const { rng: globalRng, restore } = seedGlobalRandom(opts.seed);
  const run = await startTraining(trainMnistSettings(opts), { train, trainIdx, valIdx }, globalRng, resumed);
  if (run.replicas) log.info(`${run.replicas.workers} replicas: this thread and ${run.replicas.workers - 1} worker thread${run.replicas.workers > 2 ? 's' : ''}, each computing the gradient of a share of every batch`);
  if (resumed) log.info(`resuming at epoch ${run.state.epoch}, batch ${run.state.batch + 1}`);
  const progress = createProgress({ total: opts.epochs * run.batchesPerEpoch, label: 'train-mnist', quiet: opts.json });
  const interrupts = watchInterrupts(log);
  let test: Evaluation | undefined;
  try {
    if (await trainEpochs(run, outDir, log, progress, interrupts)) {
      progress.stop();
      test = evaluateModel(run.model, data.test, Array.from({ length: data.test.count }, (_, i) => i));
      if (!Number.isFinite(test.loss)) throw divergedError('test loss', test.loss, opts.epochs, undefined, opts.lr);
    }
  } catch (err) {
    await disposeTraining(run);
    throw err;
  } finally {
    progress.stop();
    interrupts.dispose();
    restore();
  }
  if (!test) {
    await disposeTraining(run);
    process.exitCode = 130;
    return {
      interrupted: true, testAccuracy: NaN, testLoss: NaN, epochs: run.state.epoch - 1, trainSamples: trainIdx.length,
      validationSamples: valIdx.length, trainSamplesPerSec: NaN, wallSeconds: (Date.now() - started) / 1000,
      backend: backend.name, outDir, files: [],
    };
  }

  const files = await writeMnistOutputs(outDir, run.model, run.state.history, test, data, opts, opts.json);
  await disposeTraining(run);
  await removeCheckpoint(outDir);
  const wallSeconds = (Date.now() - started) / 1000;
  const trainSamplesPerSec = (trainIdx.length * opts.epochs) / run.state.trainSeconds;
  const summary: TrainMnistSummary = {
    testAccuracy: test.accuracy, testLoss: test.loss, epochs: opts.epochs, trainSamples: trainIdx.length, validationSamples: valIdx.length,
    trainSamplesPerSec, wallSeconds, backend: backend.name, outDir, files: files.sort(),
  };
  // run.json last, in the one schema of docs/run-record.schema.json; `result` is the --json summary.
  await writeRunRecord(outDir, buildRunRecord({
    command: 'train-mnist', started: new Date(started), seed: opts.seed, result: summary, workers: opts.workers ?? 1,
    settings: { ...trainMnistSettings(opts), dataDir: data.dir, model: MNIST_CNN_DEFAULTS, resumedFrom: cliOpts.resume ?? null },
  }), files);
  log.result(`test accuracy ${(test.accuracy * 100).toFixed(2)}% (loss ${test.loss.toFixed(4)}), ` +
    `${trainSamplesPerSec.toFixed(0)} samples/s, ${wallSeconds.toFixed(0)} s in all; outputs in ${outDir}`);
  return summary;
}

/** The former name of runTrainMnist. */
export const run = runTrainMnist;
