/**
 * The dnnkit sst2 training loop as a small state object and short phases: `startTraining`
 * builds the model, optimizer and regularisers (or restores them from a checkpoint),
 * `startEpoch` draws the epoch's batches, `trainStep` trains one batch of every network,
 * `trainEpoch` one pass, `endEpoch` evaluates on dev, keeps the best weights and decides early
 * stopping, `saveCheckpoint` writes the run as one object. Every counter a resumed run needs is
 * in `run.state` (Sst2Progress), which the checkpoint saves with the random and optimizer state.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../core/errors.js';
import { yieldToEventLoop, type InterruptWatch } from '../core/interrupt.js';
import type { Logger } from '../core/log.js';
import { TableAdam } from '../core/table_adam.js';
import { adamState, type AdamState } from '../core/optim.js';
import { createProgress, type Progress } from '../core/progress.js';
import type { Rng } from '../core/rng.js';
import type { EpochMetrics } from '../core/run_record.js';
import { batchTensors, disposeSubwords, type EncodedSplit } from './batches.js';
import { writeSst2Checkpoint, type Sst2TrainState } from './checkpoint.js';
import type { Sst2ModelConfig } from './config.js';
import { lengthBatches, type Vocabulary } from './data.js';
import { lossAndAccuracy, meanProbs, predictSplit } from './evaluate.js';
import { createClassifier, memberPrefix, type Sst2Classifier, type Sst2Network } from './model.js';
import type { Sst2RunOptions, Sst2TrainOptions } from './options.js';
import { decayWeights, WeightAverage } from './regularisers.js';
import { networkGradients, networkTables, type NetworkGradients } from './step.js';
import { loadClassifier, saveClassifier } from './saved.js';

/** An epoch and its dev loss and accuracy (the best so far, of the ensemble or of one network). */
export interface DevBest {
  epoch: number;
  devAcc: number;
  devLoss: number;
}

/** Where a run stands: the counters the loop advances, saved in the checkpoint as they are. */
export interface Sst2Progress {
  /** The epoch in progress (1-based) and the batches of it already trained. */
  epoch: number;
  batch: number;
  /** The run's random generator state before this epoch's batches were drawn. */
  rngAtEpochStart: number;
  /** This epoch so far: summed loss, correct predictions, sentences (averaged over the networks), seconds. */
  partial: { lossSum: number; correct: number; seen: number; seconds: number };
  /** Finished epochs' metrics. */
  rows: EpochMetrics<'dev'>[];
  /** The best epoch so far (of the kept ensemble). */
  best: DevBest;
  /** --early-stopping network: each network's best epoch so far. */
  networkBest: DevBest[];
  trainSeconds: number;
  trainSentences: number;
}

/** The epoch in progress: the networks that train in it and each one's order of batches. */
export interface EpochPlan {
  training: Sst2Network[];
  memberBatches: number[][][];
  /** Wall time at which this process started the epoch (the seconds before it are in partial.seconds). */
  t0: number;
  progress: Progress;
}

/** A run in progress: what the phases read, and the state they advance. */
export interface Sst2Training {
  readonly opts: Sst2RunOptions;
  readonly config: Sst2ModelConfig;
  readonly vocab: Vocabulary;
  /** The settings as the saved model records them (see runSettings). */
  readonly settings: Record<string, unknown>;
  readonly train: EncodedSplit;
  readonly dev: EncodedSplit;
  readonly model: Sst2Classifier;
  readonly nets: Sst2Network[];
  /** Adam over the weights other than the tables (tfjs's, which checkpoints read through `adam`). */
  readonly optimizer: tf.Optimizer;
  readonly adam: AdamState;
  /** Adam over the tables (core/table_adam.ts) (word and subword vectors) of every network, in network order. */
  readonly tableAdam: TableAdam;
  /** Weights that decay (embeddings and kernels; biases do not). */
  readonly decaying: tf.Variable[];
  readonly average: WeightAverage | null;
  /** --early-stopping network with 2 or more networks: each keeps its own best weights. */
  readonly perNetwork: boolean;
  /** The run's one random stream: batch orders, word dropout, dropout masks. */
  readonly rng: Rng;
  /** Where the best model is saved (<out>/model). */
  readonly modelDir: string;
  /** --early-stopping network: each network's weights and dev probabilities at its best epoch. */
  readonly kept: { weights: tf.NamedTensorMap; devProbs: Float32Array }[];
  state: Sst2Progress;
  /** Set by a resumed run until its first epoch has drawn its batches: the generator state to continue from. */
  resumeRng?: number;
}

/** Copies of a network's weights by name (kept while it trains on). */
function cloneWeights(net: Sst2Network): tf.NamedTensorMap {
  return Object.fromEntries(Object.entries(net.namedWeights()).map(([name, v]) => [name, v.clone()]));
}

/** Fresh model (from the run's seed), optimizer and regularisers, at epoch 1. */
export function startTraining(opts: Sst2RunOptions, data: { config: Sst2ModelConfig; vocab: Vocabulary; settings: Record<string, unknown>; train: EncodedSplit; dev: EncodedSplit },
  outDir: string, rng: Rng): Sst2Training {
  const model = createClassifier(data.config, opts.seed);
  const optimizer = tf.train.adam(opts.learningRate);
  const decaying = Object.entries(model.namedWeights()).filter(([name]) => !name.endsWith('bias')).map(([, v]) => v as tf.Variable);
  const nets = model.networks;
  return {
    opts, ...data, model, nets, optimizer, adam: adamState(optimizer), decaying,
    tableAdam: new TableAdam(nets.flatMap(networkTables), opts.learningRate),
    average: opts.emaDecay > 0 ? new WeightAverage(model.variables, opts.emaDecay) : null,
    perNetwork: nets.length > 1 && opts.earlyStopping === 'network',
    rng, modelDir: path.join(outDir, 'model'), kept: [],
    state: {
      epoch: 1, batch: 0, rngAtEpochStart: 0, partial: { lossSum: 0, correct: 0, seen: 0, seconds: 0 },
      rows: [], best: { epoch: 0, devAcc: -1, devLoss: Infinity }, networkBest: nets.map(() => ({ epoch: 0, devAcc: -1, devLoss: Infinity })),
      trainSeconds: 0, trainSentences: 0,
    },
  };
}

/** Every tensor that --resume needs, by checkpoint name (`adam/0` is a new step-count scalar: dispose it). */
async function checkpointTensors(run: Sst2Training): Promise<tf.NamedTensorMap> {
  return {
    ...Object.fromEntries(Object.entries(run.model.namedWeights()).map(([k, v]) => [`model/${k}`, v])),
    ...Object.fromEntries((await run.adam.getMoments()).map((t, k) => [`adam/${k}`, t])),
    ...Object.fromEntries((run.average?.averaged ?? []).map((v, k) => [`average/${k}`, v])),
    ...Object.fromEntries(run.tableAdam.getMoments().map((t, k) => [`table_adam/${k}`, t])),
  };
}

/**
 * Puts a checkpoint's weights, optimizer moments, weight average, counters and (with
 * --early-stopping network) kept networks into a freshly started run. `arg` is --resume as given.
 */
export async function restoreTraining(run: Sst2Training, ckpt: Sst2TrainState, t: tf.NamedTensorMap, arg: string): Promise<void> {
  const take = (prefix: string) => Object.keys(t).filter((k) => k.startsWith(prefix)).sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length))).map((k) => t[k]);
  for (const [name, v] of Object.entries(run.model.namedWeights())) {
    if (!t[`model/${name}`]) throw new InputError(`--resume ${arg}: the checkpoint has no weight ${name}; it belongs to another model, start the run again`);
    (v as tf.Variable).assign(t[`model/${name}`]);
  }
  const adam = take('adam/');
  if (adam.length > 0) await run.adam.setMoments(adam, ckpt.adamBetaPowers);
  run.tableAdam.setState(take('table_adam/'), ckpt.tableAdamPowers!);
  if (run.average) run.average.restore(take('average/'), ckpt.averageUpdates);
  tf.dispose(Object.values(t));
  const { epoch, batch, rngAtEpochStart, partial, rows, best, trainSeconds, trainSentences } = ckpt;
  run.state = { ...run.state, epoch, batch, rngAtEpochStart, partial, rows: rows as EpochMetrics<'dev'>[], best, trainSeconds, trainSentences };
  run.resumeRng = ckpt.rng;
  if (run.perNetwork && ckpt.networkBest && ckpt.networkBest.some((b) => b.epoch > 0)) {
    // The kept networks are the ones saved in the model folder.
    run.state.networkBest = ckpt.networkBest;
    const { model: saved } = await loadClassifier(run.modelDir);
    try {
      for (const net of saved.networks) run.kept.push({ weights: cloneWeights(net), devProbs: (await predictSplit(net, run.dev, 128)).probs });
    } finally {
      saved.dispose();
    }
  }
}

/**
 * Draws the epoch's batches: the networks that train (all, except with --early-stopping network
 * those that have not improved for `patience` epochs), each with its own order of the batches,
 * as it would in a run of its own (the first network's draws first, as in a single run). A
 * resumed run replays its epoch's draws from rngAtEpochStart, then continues its generator.
 */
function startEpoch(run: Sst2Training, onBatches: (count: number) => void): EpochPlan {
  const { opts, state, rng } = run;
  const t0 = Date.now();
  if (run.resumeRng !== undefined) rng.setState(state.rngAtEpochStart);
  else state.rngAtEpochStart = rng.getState();
  const training = run.perNetwork ? run.nets.filter((_, k) => state.epoch - 1 - state.networkBest[k].epoch < opts.patience) : run.nets;
  const trainLengths = run.train.ids.map((ids) => ids.length);
  const memberBatches = training.map(() => lengthBatches(trainLengths, opts.batchSize, rng));
  onBatches(memberBatches[0].length);
  if (run.resumeRng !== undefined) rng.setState(run.resumeRng);
  run.resumeRng = undefined;
  const progress = createProgress({ total: run.train.ids.length, label: `epoch ${state.epoch}/${opts.epochs}`, quiet: opts.json || opts.quiet });
  return { training, memberBatches, t0, progress };
}

/**
 * The error for a loss that is no longer finite: the run stops there and writes no result
 * (`batch` undefined: a loss measured at the end of an epoch).
 */
export function divergedError(what: string, value: number, epoch: number, batch: number | undefined, opts: Sst2TrainOptions): InputError {
  return new InputError(`training diverged at epoch ${epoch}${batch !== undefined ? `, batch ${batch}` : ''}: the ${what} is ${value}; no result was saved; `
    + `lower --learning-rate (was ${opts.learningRate})${opts.weightDecay > 0 ? ` or --weight-decay (was ${opts.weightDecay})` : ''} and start again`);
}

/**
 * The scale of each network's gradient (its clip to --clip-norm: an ensemble member's steps are
 * the ones it would take alone): min(1, clipNorm / its global norm over dense and table rows).
 */
function clipScale(clipNorm: number, g: NetworkGradients): number {
  if (clipNorm <= 0) return 1;
  const dense = Object.values(g.dense);
  let sq = dense.length ? tf.tidy(() => tf.addN(dense.map((t) => tf.sum(tf.square(t)))).dataSync()[0]) : 0;
  for (const t of g.tables) for (let i = 0; i < t.grad.length; i++) sq += t.grad[i] * t.grad[i];
  return Math.min(1, clipNorm / Math.max(Math.sqrt(sq), 1e-6));
}

/**
 * Trains batch `state.batch` of every training network (step.ts: the clean and adversarial
 * passes), then one optimizer step over all of them: tfjs's Adam on the dense weights, TableAdam on the
 * table rows the batches used, then weight decay and the weight average; adds the networks' mean
 * loss and accuracy to the epoch's sums. Word dropout and dropout masks are drawn from the run's
 * stream in a fixed order (network by network), which is what makes a run reproducible.
 * Networks that have stopped (--early-stopping network) get zero dense gradients: Adam keeps its
 * moments by position in the gradient list, so every step lists all dense weights in the same
 * order (their weights still drift with Adam's momentum, but the kept copies are what counts).
 */
export async function trainStep(run: Sst2Training, plan: EpochPlan): Promise<void> {
  const { opts, state, rng } = run;
  const { training } = plan;
  const idxs = plan.memberBatches.map((mb) => mb[state.batch]);
  const inputs = idxs.map((idx) => batchTensors(run.train, idx, opts.wordDropout, rng));
  const results: NetworkGradients[] = [];
  try {
    for (const [k, net] of training.entries()) results.push(networkGradients(net, inputs[k], opts.adversarial, rng));
  } catch (err) {
    tf.dispose(results.flatMap((r) => Object.values(r.dense)));
    throw err;
  } finally {
    tf.dispose(inputs.flatMap((t) => [t.ids, t.labels, ...disposeSubwords(t.subwords)]));
  }
  const bad = results.find((r) => !Number.isFinite(r.loss));
  if (bad) {
    tf.dispose(results.flatMap((r) => Object.values(r.dense)));
    throw divergedError('loss', bad.loss, state.epoch, state.batch + 1, opts);
  }
  const dense: tf.NamedTensorMap = {};
  const rows = [];
  for (const net of run.nets) {
    const r = results[training.indexOf(net)];
    const tables = new Set(networkTables(net));
    if (!r) {
      for (const v of net.variables) if (!tables.has(v)) dense[v.name] = tf.zerosLike(v); // a network that has stopped
      continue;
    }
    const scale = clipScale(opts.clipNorm, r);
    for (const [name, g] of Object.entries(r.dense)) {
      dense[name] = scale < 1 ? tf.mul(g, scale) : g;
      if (scale < 1) g.dispose();
    }
    rows.push(...r.tables.map((t) => ({ ...t, scale })));
  }
  run.optimizer.applyGradients(dense as never);
  tf.dispose(Object.values(dense));
  run.tableAdam.step(rows);
  if (opts.weightDecay > 0) decayWeights(run.decaying, opts.learningRate * opts.weightDecay);
  run.average?.update();
  // Per epoch every network sees every sentence once: the counts are averaged over the networks.
  const p = state.partial;
  idxs.forEach((idx, k) => {
    p.lossSum += (results[k].loss * idx.length) / training.length;
    idx.forEach((i, j) => { if ((results[k].probs[j] >= 0.5 ? 1 : 0) === run.train.labels[i]) p.correct += 1 / training.length; });
    p.seen += idx.length / training.length;
  });
}

/**
 * Trains the rest of the epoch from batch `state.batch`. Returns the epoch's plan and whether
 * the epoch ended; `finished` false when an interrupt stopped it after a batch (state.batch is
 * then the next batch and partial.seconds the epoch's seconds so far). `onBatches` gets the
 * number of batches of the epoch once they are drawn.
 */
export async function trainEpoch(run: Sst2Training, interrupts: InterruptWatch, onBatches: (count: number) => void): Promise<{ plan: EpochPlan; finished: boolean }> {
  const { state } = run;
  const plan = startEpoch(run, onBatches);
  const batches = plan.memberBatches[0].length;
  for (; state.batch < batches; state.batch++) {
    await trainStep(run, plan);
    plan.progress.update(Math.round(state.partial.seen), { loss: state.partial.lossSum / state.partial.seen, acc: state.partial.correct / state.partial.seen });
    await yieldToEventLoop(); // signal handlers run here
    if (interrupts.requested()) {
      plan.progress.stop();
      state.batch += 1;
      state.partial.seconds += (Date.now() - plan.t0) / 1000;
      return { plan, finished: false };
    }
  }
  plan.progress.stop();
  return { plan, finished: true };
}

/**
 * Dev metrics of the epoch and whether they improved. With --early-stopping network each network
 * that trained is compared with its own best (and its weights kept when better); the epoch's dev
 * metrics are then the kept ensemble's (every network at its best epoch so far).
 */
async function evaluateDev(run: Sst2Training, training: Sst2Network[]): Promise<{ loss: number; acc: number; improved: boolean; networks?: (number | null)[]; note: string }> {
  const { state, dev } = run;
  if (!run.perNetwork) {
    const m = lossAndAccuracy((await predictSplit(run.model, dev, 128)).probs, dev.labels);
    return { ...m, improved: m.acc > state.best.devAcc, note: '' };
  }
  const better: number[] = [];
  const networks: (number | null)[] = [];
  for (const [k, net] of run.nets.entries()) {
    if (!training.includes(net)) {
      networks.push(null);
      continue;
    }
    const { probs } = await predictSplit(net, dev, 128);
    const m = lossAndAccuracy(probs, dev.labels);
    networks.push(m.acc);
    if (m.acc > state.networkBest[k].devAcc) {
      state.networkBest[k] = { epoch: state.epoch, devAcc: m.acc, devLoss: m.loss };
      if (run.kept[k]) tf.dispose(Object.values(run.kept[k].weights));
      run.kept[k] = { weights: cloneWeights(net), devProbs: probs };
      better.push(k + 1);
    }
  }
  const m = lossAndAccuracy(meanProbs(run.kept.map((n) => n.devProbs)), dev.labels);
  const improved = better.length > 0;
  const note = ` | networks' dev acc ${networks.map((a) => (a === null ? '-' : (100 * a).toFixed(1))).join(' ')}${improved ? `, better: ${better.join(', ')}` : ''}`;
  return { ...m, improved, networks, note };
}

/** Saves the best model so far in <out>/model: the model, or with --early-stopping network the kept networks. */
async function saveBest(run: Sst2Training, devAcc: number): Promise<void> {
  const { opts, state } = run;
  const meta = { epoch: state.epoch, devAccuracy: devAcc, seed: opts.seed, settings: run.settings };
  if (!run.perNetwork) {
    await saveClassifier(run.model, run.vocab, run.modelDir, meta);
    return;
  }
  const weights = Object.fromEntries(run.kept.flatMap((n, k) => Object.entries(n.weights).map(([name, t]) => [memberPrefix(k) + name, t])));
  const keptModel = createClassifier(run.config, opts.seed, weights);
  try {
    await saveClassifier(keptModel, run.vocab, run.modelDir, { epoch: state.epoch, networkEpochs: state.networkBest.map((b) => b.epoch), devAccuracy: devAcc, seed: opts.seed, settings: run.settings });
  } finally {
    keptModel.dispose();
  }
}

/**
 * Ends the epoch: evaluates on dev with the averaged weights (--ema-decay), records the row,
 * saves the model when dev accuracy improved, and moves the state to the next epoch. Returns
 * true when early stopping ends the run.
 */
export async function endEpoch(run: Sst2Training, plan: EpochPlan, log: Logger): Promise<boolean> {
  const { opts, state } = run;
  const seconds = state.partial.seconds + (Date.now() - plan.t0) / 1000;
  state.trainSeconds += seconds;
  state.trainSentences += state.partial.seen;
  run.average?.swap(); // evaluate and save the averaged weights
  const devM = await evaluateDev(run, plan.training);
  if (!Number.isFinite(devM.loss)) throw divergedError('dev loss', devM.loss, state.epoch, undefined, opts);
  const p = state.partial;
  const row: EpochMetrics<'dev'> = { epoch: state.epoch, loss: p.lossSum / p.seen, acc: p.correct / p.seen, dev_loss: devM.loss, dev_acc: devM.acc, seconds: p.seconds + (Date.now() - plan.t0) / 1000, ...(devM.networks ? { networks: devM.networks } : {}) };
  state.rows.push(row);
  log.info(`epoch ${state.epoch}: loss ${row.loss.toFixed(4)} acc ${row.acc.toFixed(4)} | dev loss ${devM.loss.toFixed(4)} acc ${devM.acc.toFixed(4)}${devM.note} | ${row.seconds.toFixed(1)} s, ${(p.seen / seconds).toFixed(0)} sentences/s${devM.improved ? ` (${run.perNetwork ? 'kept ensemble' : 'best so far'}, saved)` : ''}`);
  if (devM.improved) {
    state.best = { epoch: state.epoch, devAcc: devM.acc, devLoss: devM.loss };
    await saveBest(run, devM.acc);
  }
  run.average?.swap(); // back to the raw weights for training
  const stop = state.epoch - state.best.epoch >= opts.patience;
  if (stop) {
    log.info(run.perNetwork
      ? `early stopping: no network has had a better dev accuracy for ${opts.patience} epochs; kept epochs ${state.networkBest.map((b) => b.epoch).join(', ')}`
      : `early stopping: no better dev accuracy for ${opts.patience} epochs; best epoch ${state.best.epoch}`);
  }
  state.epoch += 1;
  state.batch = 0;
  state.partial = { lossSum: 0, correct: 0, seen: 0, seconds: 0 };
  return stop;
}

/** Saves the run where it stands (after an interrupt) as one checkpoint in `outDir`; returns its folder. */
export async function saveCheckpoint(run: Sst2Training, outDir: string): Promise<string> {
  const { resume: _r, restart: _rs, givenOptions: _g, json: _j, debug: _d, backend: _b, quiet: _q, threads: _t, ...options } = run.opts;
  const { networkBest, ...counters } = run.state;
  const tensors = await checkpointTensors(run);
  try {
    return await writeSst2Checkpoint(outDir, {
      version: 1, options, ...counters, rng: run.rng.getState(), ...(run.perNetwork ? { networkBest } : {}),
      adamBetaPowers: run.adam.getBetaPowers(), tableAdamPowers: run.tableAdam.getPowers(), averageUpdates: run.average?.updateCount ?? 0,
    }, tensors);
  } finally {
    tensors['adam/0']?.dispose(); // the step count scalar getMoments made
    tf.dispose(Object.entries(tensors).filter(([name]) => name.startsWith('table_adam/')).map(([, t]) => t)); // copies of the table moments
  }
}

/** Frees the model, optimizer, weight average and kept weights. */
export function disposeTraining(run: Sst2Training): void {
  for (const n of run.kept) tf.dispose(Object.values(n.weights));
  run.optimizer.dispose();
  run.average?.dispose();
  run.model.dispose();
}
