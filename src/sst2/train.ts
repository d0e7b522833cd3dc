/**
 * `dnnkit sst2`: trains the LSTM sentiment classifier on SST-2 with Adam and early stopping on
 * dev accuracy, keeps the best-dev checkpoint, reports test accuracy on it, writes the curves,
 * the model, run.json, and the features of an intermediate layer with their 2-D projection.
 */
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendInfo } from '../core/backend.js';
import type { CommonOptions } from '../core/command.js';
import { InputError, UsageError } from '../core/errors.js';
import { prepareOutDir } from '../core/fsutil.js';
import { writeCsv } from '../core/csv.js';
import { writeChart } from '../core/plot.js';
import { createProgress } from '../core/progress.js';
import { createLogger } from '../core/log.js';
import { watchInterrupts, yieldToEventLoop } from '../core/interrupt.js';
import { readSst2Checkpoint, writeSst2Checkpoint } from './checkpoint.js';
import { checkResumeOptions, refuseOrDiscardCheckpoint, removeCheckpoint } from '../core/checkpoint.js';
import { invalidateRunRecord, writeRunRecord } from '../core/run_record.js';
import { createRng, type Rng } from '../core/rng.js';
import { PROJECTION_CHOICES, projectFeatures, type ProjectionChoice, type ProjectionSummary } from '../project/index.js';
import { buildVocabulary, encodeBackoff, encodeSentences, flattenSubwords, lengthBatches, SUBWORD_NGRAMS, tokenSubwords, loadSst2, oovRate, LAYOUTS, VOCAB_FILE, type Example, type Vocabulary } from './data.js';
import { createClassifier, featureLayerNames, memberPrefix, POOLINGS, type Pooling, type Sst2Classifier, type Sst2ModelConfig, type Sst2Network } from './model.js';
import { CNN_FILTERS, CNN_WIDTHS } from './cnn.js';
import { loadClassifier, MODEL_JSON, saveClassifier, WEIGHTS_BIN } from './saved.js';
import type { SubwordTensors } from './network.js';

/** Training settings; the defaults live in SST2_DEFAULTS and every run writes them to run.json. */
export interface Sst2TrainOptions {
  /** Folder with train.tsv, dev.tsv, test.tsv (sentence-level or GLUE layout). */
  dataDir: string;
  /** Most epochs to train (early stopping may end sooner). */
  epochs: number;
  /** Stop after this many epochs without a better dev accuracy. */
  patience: number;
  /** Sentences per batch (batches hold sentences of one length, so some are smaller). */
  batchSize: number;
  /** Adam step size. */
  learningRate: number;
  /** Clip the gradient norm (each ensemble member's own) to this (0 = no clipping). */
  clipNorm: number;
  /**
   * Decoupled weight decay (AdamW, Loshchilov & Hutter 2019): after each step every embedding
   * and kernel (not the biases) shrinks by learningRate * weightDecay of itself (0 = off).
   */
  weightDecay: number;
  /**
   * Exponential moving average of the weights (Polyak averaging): after each step
   * avg = d * avg + (1 - d) * w with d = min(emaDecay, (1 + step) / (10 + step)); dev accuracy,
   * the kept checkpoint and test accuracy use the averaged weights (0 = off, the raw weights).
   */
  emaDecay: number;
  /**
   * LSTM networks trained side by side from different random initialisations, whose
   * probabilities are averaged (see EnsembleClassifier); early stopping and the kept checkpoint
   * follow the ensemble's dev accuracy. 1 = a single network (without --cnn).
   */
  ensemble: number;
  /**
   * CNN networks (cnn.ts: n-gram filters, Kim 2014) added to the ensemble after the LSTMs, each
   * weighing as much as one LSTM in the average (0 = none; `--ensemble 0 --cnn 1` = one CNN).
   */
  cnn: number;
  /** Filters per window width (3, 4, 5 words) of each CNN network. */
  cnnFilters: number;
  /**
   * How an ensemble stops and which weights it keeps: `ensemble` = every network at the epoch of
   * the best ensemble dev accuracy; `network` = every network at the epoch of its own best dev
   * accuracy, and a network stops training after `patience` epochs without a better one (as if
   * each were a separate run; the run ends when all have stopped). Ignored for one network.
   */
  earlyStopping: EarlyStopping;
  /**
   * Adversarial training on the word vectors (Miyato et al. 2017): each step also trains on the
   * batch with every sentence's word vectors moved in the direction that raises the loss most
   * (the normalised gradient), by this share of their own norm (0 = off; an epoch takes about 2x as long).
   */
  adversarial: number;
  /** Hidden units per LSTM direction. */
  units: number;
  /** Stacked LSTM layers. */
  layers: number;
  /** Add a right-to-left LSTM to every layer. */
  bidirectional: boolean;
  /** Sentence vector from the last layer's hidden states: last | max | mean | meanmax (see Sst2ModelConfig.pooling). */
  pooling: Pooling;
  /** Word vector size (learned from scratch: no pretrained vectors). */
  embeddingDim: number;
  /** Dropout on word vectors, between layers and before the output. */
  dropout: number;
  /** Words seen fewer times in train map to <oov>. */
  minCount: number;
  /** Share of training tokens replaced by <oov> at random in each batch (word dropout, Iyyer et al. 2015). */
  wordDropout: number;
  /** Unknown words longer than this back off to a vector of their first this-many letters (0 = all share <oov>). */
  oovPrefix: number;
  /**
   * Subword vectors: character 3- to 5-gram vectors, of the n-grams found in at least this many
   * distinct training words, whose mean is added to each word's vector (0 = off).
   */
  subwords: number;
  /** Longest sentence kept (tokens); undefined = the longest training sentence. */
  maxLen?: number;
  /** Train on only the first N training sentences (quick runs, tests); undefined = all. */
  trainLimit?: number;
  /** Projection plots of the extracted features. */
  embedPlot: ProjectionChoice | 'none';
  /** Feature layer to extract (see featureLayerNames). */
  layer: string;
}

export const SST2_DEFAULTS: Sst2TrainOptions = {
  dataDir: 'data/sst2',
  epochs: 12,
  patience: 3,
  batchSize: 32,
  learningRate: 0.002,
  clipNorm: 5,
  weightDecay: 0,
  emaDecay: 0,
  ensemble: 5,
  cnn: 0,
  cnnFilters: CNN_FILTERS,
  earlyStopping: 'ensemble',
  adversarial: 0.2,
  units: 128,
  layers: 1,
  bidirectional: true,
  pooling: 'max',
  embeddingDim: 128,
  dropout: 0.5,
  minCount: 2,
  wordDropout: 0.1,
  oovPrefix: 0,
  subwords: 5,
  maxLen: undefined,
  trainLimit: undefined,
  embedPlot: 'pca',
  layer: 'pooled',
};

/** Values of --early-stopping (see Sst2TrainOptions.earlyStopping). */
export const EARLY_STOPPINGS = ['ensemble', 'network'] as const;
export type EarlyStopping = (typeof EARLY_STOPPINGS)[number];

export type Sst2RunOptions = Sst2TrainOptions & CommonOptions & {
  quiet?: boolean;
  /** Continue the interrupted run whose --out is this folder, with its settings (conflicting options are refused). */
  resume?: string;
  /** Discard the checkpoint of an interrupted run in --out and start over (without it such a run is refused). */
  restart?: boolean;
  /** Options set on the command line (camelCase names; the CLI fills it): --resume refuses those that conflict with the checkpoint. */
  givenOptions?: string[];
};

export interface EpochMetrics {
  epoch: number;
  loss: number;
  acc: number;
  dev_loss: number;
  dev_acc: number;
  seconds: number;
  /** With --early-stopping network: each network's own dev accuracy (null once it has stopped training). */
  networks?: (number | null)[];
}

export interface Sst2Summary {
  devAccuracy: number;
  /** null when the test split has no labels (GLUE). */
  testAccuracy: number | null;
  testLoss: number | null;
  /** Epochs trained (including the ones after the best, before early stopping). */
  epochs: number;
  bestEpoch: number;
  /** With --early-stopping network: the epoch whose weights each network keeps. */
  networkBestEpochs?: number[];
  backend: string;
  layout: string;
  vocabularySize: number;
  maxLen: number;
  parameters: number;
  trainSentencesPerSecond: number;
  seconds: number;
  seed: number;
  outDir: string;
  projection: ProjectionSummary | null;
  /** True when Ctrl-C / SIGTERM stopped the run and it left a checkpoint (the other fields are partial). */
  interrupted?: boolean;
}

/** Encoded split: token ids per sentence and labels (-1 when unlabelled). */
interface EncodedSplit {
  ids: Int32Array[];
  /** Per token, the id it would have if unknown (backoffId): what word dropout substitutes. */
  backoff: Int32Array[];
  /** Per sentence, per token, its character n-gram ids (encodeSubwords); undefined without subword vectors. */
  subwords?: Int32Array[][];
  labels: number[];
  examples: Example[];
}

function encodeSplit(examples: Example[], vocab: Vocabulary): EncodedSplit {
  return {
    ...encodeSentences(examples.map((e) => e.tokens), vocab),
    backoff: examples.map((e) => encodeBackoff(e.tokens, vocab)),
    labels: examples.map((e) => (e.label === null ? -1 : e.label)),
    examples,
  };
}

/**
 * Batch tensors: ids [batch, time] int32 and labels [batch] float32. With `wordDropout` > 0,
 * that share of the tokens becomes unknown (drawn from `rng`): `<oov>`, or the word's prefix entry
 * with --oov-prefix, so the model cannot lean on single rare words and the unknown-word vectors
 * learn what an unknown word at test time looks like. A dropped word keeps its subword ids (as an
 * unknown word at test time has them).
 */
function batchTensors(split: EncodedSplit, idx: number[], wordDropout = 0, rng?: Rng): { ids: tf.Tensor2D; labels: tf.Tensor1D; subwords?: SubwordTensors } {
  const time = split.ids[idx[0]].length;
  const flat = new Int32Array(idx.length * time);
  idx.forEach((i, k) => flat.set(split.ids[i], k * time));
  if (wordDropout > 0 && rng) {
    for (let j = 0; j < flat.length; j++) if (rng.next() < wordDropout) flat[j] = split.backoff[idx[Math.floor(j / time)]][j % time];
  }
  return {
    ids: tf.tensor2d(flat, [idx.length, time], 'int32'),
    labels: tf.tensor1d(idx.map((i) => Math.max(0, split.labels[i])), 'float32'),
    ...(split.subwords ? { subwords: subwordTensors(split.subwords, idx) } : {}),
  };
}

/** The subword tensors of the sentences `idx` of a split (see flattenSubwords). */
export function subwordTensors(subwords: readonly Int32Array[][], idx: readonly number[]): SubwordTensors {
  const flat = flattenSubwords(idx.map((i) => subwords[i]));
  return {
    ids: tf.tensor1d(flat.ids, 'int32'),
    positions: tf.tensor1d(flat.positions, 'int32'),
    weights: tf.tensor1d(flat.weights, 'float32'),
  };
}

const disposeSubwords = (s?: SubwordTensors): tf.Tensor[] => (s ? [s.ids, s.positions, s.weights] : []);

/**
 * The adversarial direction for a network's word vectors (Miyato et al. 2017): the gradient of
 * the loss with respect to the word vectors, scaled per sentence to `share` of the L2 norm of the
 * sentence's word vectors (relative, so that growing the embeddings does not shrink it). The
 * result is a constant: no gradient flows through it.
 */
export function adversarialPerturbation(net: Sst2Network, ids: tf.Tensor2D, loss: (logits: tf.Tensor1D) => tf.Scalar,
  share: number, rng: Rng, subwords?: SubwordTensors): tf.Tensor3D {
  return tf.tidy(() => {
    const words = net.wordVectors(ids, subwords);
    const g = tf.grad((p: tf.Tensor) => loss(net.forward(ids, { training: true, rng, perturbation: p as tf.Tensor3D, subwords }).logits))(tf.zerosLike(words));
    // Norms per sentence: over time and the vector dimension, [1, batch, 1].
    const norm = (t: tf.Tensor) => tf.sqrt(tf.sum(tf.square(t), [0, 2], true));
    return tf.mul(g, tf.div(tf.mul(norm(words), share), tf.add(norm(g), 1e-12))) as tf.Tensor3D;
  });
}

/** Copies of a network's weights by name (kept while it trains on). */
function cloneWeights(net: Sst2Network): tf.NamedTensorMap {
  return Object.fromEntries(Object.entries(net.namedWeights()).map(([name, v]) => [name, v.clone()]));
}

/** Element-wise mean of equal-length probability arrays (an ensemble's prediction). */
function meanProbs(all: Float32Array[]): Float32Array {
  const out = new Float32Array(all[0].length);
  for (const p of all) for (let i = 0; i < out.length; i++) out[i] += p[i] / all.length;
  return out;
}

/** Decoupled weight decay: every variable shrinks to (1 - rate) of itself. */
export function decayWeights(vars: tf.Variable[], rate: number): void {
  tf.tidy(() => vars.forEach((v) => v.assign(tf.mul(v, 1 - rate))));
}

/**
 * Exponential moving average of some variables (Polyak averaging, as tf.train.ExponentialMovingAverage
 * with num_updates): after update number n, avg = d * avg + (1 - d) * w with
 * d = min(decay, (1 + n) / (10 + n)), so early averages are not stuck at the initial weights.
 */
export class WeightAverage {
  readonly averaged: tf.Variable[];
  private updates = 0;

  constructor(private readonly vars: tf.Variable[], private readonly decay: number) {
    this.averaged = vars.map((v) => tf.variable(v.clone() as tf.Tensor, false));
  }

  /** Updates folded in so far (saved in checkpoints). */
  get updateCount(): number {
    return this.updates;
  }

  /** Restores a checkpoint: the averages' values and the update count. */
  restore(values: tf.Tensor[], updates: number): void {
    values.forEach((t, i) => this.averaged[i].assign(t));
    this.updates = updates;
  }

  /** Folds the variables' current values into the average. */
  update(): void {
    this.updates += 1;
    const d = Math.min(this.decay, (1 + this.updates) / (10 + this.updates));
    tf.tidy(() => this.vars.forEach((v, i) => this.averaged[i].assign(tf.add(tf.mul(this.averaged[i], d), tf.mul(v, 1 - d)))));
  }

  /** Exchanges the variables' values with the averages (call twice to undo). */
  swap(): void {
    this.vars.forEach((v, i) => {
      const raw = v.clone();
      v.assign(this.averaged[i]);
      this.averaged[i].assign(raw);
      raw.dispose();
    });
  }

  dispose(): void {
    tf.dispose(this.averaged);
  }
}

/** P(positive) for every sentence of a split, plus requested features (rows in split order). */
export async function predictSplit(model: Sst2Classifier, split: { ids: Int32Array[]; subwords?: Int32Array[][] }, batchSize: number, featureLayer?: string)
  : Promise<{ probs: Float32Array; features: Float32Array[] }> {
  const probs = new Float32Array(split.ids.length);
  const features: Float32Array[] = new Array(split.ids.length);
  for (const idx of lengthBatches(split.ids.map((s) => s.length), batchSize)) {
    const out = tf.tidy(() => {
      const time = split.ids[idx[0]].length;
      const flat = new Int32Array(idx.length * time);
      idx.forEach((i, k) => flat.set(split.ids[i], k * time));
      const subwords = split.subwords ? subwordTensors(split.subwords, idx) : undefined;
      const res = model.forward(tf.tensor2d(flat, [idx.length, time], 'int32'), { training: false, features: featureLayer ? [featureLayer] : [], subwords });
      return [tf.sigmoid(res.logits), ...(featureLayer ? [res.features[featureLayer]] : [])];
    });
    const p = (await out[0].data()) as Float32Array;
    idx.forEach((i, k) => (probs[i] = p[k]));
    if (featureLayer) {
      const f = (await out[1].data()) as Float32Array;
      const dim = out[1].shape[1]!;
      idx.forEach((i, k) => (features[i] = f.slice(k * dim, (k + 1) * dim)));
    }
    tf.dispose(out);
  }
  return { probs, features };
}

/** Mean binary cross-entropy and accuracy of probabilities against 0/1 labels. */
export function lossAndAccuracy(probs: ArrayLike<number>, labels: readonly number[]): { loss: number; acc: number } {
  let loss = 0;
  let correct = 0;
  const eps = 1e-7;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probs[i]));
    loss -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
    if ((p >= 0.5 ? 1 : 0) === labels[i]) correct += 1;
  }
  return { loss: loss / labels.length, acc: correct / labels.length };
}

/** Checks option values that depend on each other (before anything is written). */
export function validateOptions(opts: Sst2RunOptions): void {
  if (opts.ensemble + opts.cnn < 1) {
    throw new UsageError('--ensemble 0 with --cnn 0 leaves no network to train; give --ensemble N (LSTMs) or --cnn N (CNNs) of at least 1');
  }
  const layers = featureLayerNames({ layers: opts.layers, members: opts.ensemble });
  if (!layers.includes(opts.layer)) {
    throw new UsageError(opts.ensemble === 0
      ? `--layer '${opts.layer}' does not exist in a model of CNN networks only; use one of ${layers.join(', ')}`
      : `--layer '${opts.layer}' does not exist in a ${opts.layers}-layer model; use one of ${layers.join(', ')}`);
  }
  if (!(POOLINGS as readonly string[]).includes(opts.pooling)) {
    throw new UsageError(`--pooling '${opts.pooling}' is unknown; use one of ${POOLINGS.join(', ')}`);
  }
  if (opts.earlyStopping !== undefined && !(EARLY_STOPPINGS as readonly string[]).includes(opts.earlyStopping)) {
    throw new UsageError(`--early-stopping '${opts.earlyStopping}' is unknown; use one of ${EARLY_STOPPINGS.join(', ')}`);
  }
  if (opts.embedPlot !== 'none' && !(PROJECTION_CHOICES as readonly string[]).includes(opts.embedPlot)) {
    throw new UsageError(`--embed-plot '${opts.embedPlot}' is unknown; use one of ${[...PROJECTION_CHOICES, 'none'].join(', ')}`);
  }
}

/**
 * The error for a loss that is no longer finite: the run stops there and writes no result
 * (`batch` undefined: a loss measured at the end of an epoch).
 */
function divergedError(what: string, value: number, epoch: number, batch: number | undefined, opts: Sst2TrainOptions): InputError {
  return new InputError(`training diverged at epoch ${epoch}${batch !== undefined ? `, batch ${batch}` : ''}: the ${what} is ${value}; no result was saved; `
    + `lower --learning-rate (was ${opts.learningRate})${opts.weightDecay > 0 ? ` or --weight-decay (was ${opts.weightDecay})` : ''} and start again`);
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The networks of a run in words, e.g. `5 x LSTM (1 layer, bidirectional, 128 units) + 2 x CNN (...)`. */
export function describeModel(opts: Pick<Sst2TrainOptions, 'ensemble' | 'cnn' | 'cnnFilters' | 'layers' | 'bidirectional' | 'units'>): string {
  const alone = opts.ensemble + opts.cnn === 1;
  const parts = [
    ...(opts.ensemble > 0 ? [`${alone ? '' : `${opts.ensemble} x `}LSTM (${opts.layers} layer${opts.layers > 1 ? 's' : ''}${opts.bidirectional ? ', bidirectional' : ''}, ${opts.units} units)`] : []),
    ...(opts.cnn > 0 ? [`${alone ? '' : `${opts.cnn} x `}CNN (widths ${CNN_WIDTHS.join('/')}, ${opts.cnnFilters} filters each)`] : []),
  ];
  return parts.join(' + ');
}

/** Learning curves: loss and accuracy per epoch, train vs dev, the best epoch marked. */
function curvesSpec(rows: EpochMetrics[], bestEpoch: number, title: string, perNetwork = false): Record<string, unknown> {
  const values = rows.flatMap((r) => [
    { epoch: r.epoch, split: 'train', metric: 'loss', value: r.loss },
    { epoch: r.epoch, split: 'dev', metric: 'loss', value: r.dev_loss },
    { epoch: r.epoch, split: 'train', metric: 'accuracy', value: r.acc },
    { epoch: r.epoch, split: 'dev', metric: 'accuracy', value: r.dev_acc },
    // Each network's own dev accuracy while it trains (--early-stopping network).
    ...(r.networks ?? []).flatMap((a, k) => (a === null ? [] : [{ epoch: r.epoch, network: k + 1, metric: 'network accuracy', value: a }])),
  ]);
  const panel = (metric: string, yTitle: string) => ({
    title: yTitle,
    width: 320,
    height: 220,
    layer: [
      ...(perNetwork && metric === 'accuracy' ? [{
        transform: [{ filter: "datum.metric === 'network accuracy'" }],
        mark: { type: 'line', color: '#bbbbbb', strokeWidth: 1 },
        encoding: {
          x: { field: 'epoch', type: 'quantitative' },
          y: { field: 'value', type: 'quantitative' },
          detail: { field: 'network', type: 'nominal' },
        },
      }] : []),
      {
        transform: [{ filter: `datum.metric === '${metric}'` }],
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
          y: { field: 'value', type: 'quantitative', title: yTitle, scale: { zero: false } },
          color: { field: 'split', type: 'nominal', title: 'split', scale: { domain: ['train', 'dev'] } },
        },
      },
      {
        data: { values: [{ epoch: bestEpoch, label: `best dev (epoch ${bestEpoch})` }] },
        mark: { type: 'rule', strokeDash: [4, 3], color: 'gray' },
        encoding: { x: { field: 'epoch', type: 'quantitative' } },
      },
    ],
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: title,
      subtitle: perNetwork
        ? ['dev: the kept ensemble (each network at its best dev epoch so far); grey: each network alone on dev',
          'dashed line: the last epoch a network improved; train metrics with dropout on']
        : 'dashed line: best dev-accuracy epoch (the kept checkpoint); train metrics with dropout on',
    },
    data: { values },
    hconcat: [panel('loss', 'binary cross-entropy'), panel('accuracy', 'accuracy')],
  };
}

/** Trains, evaluates, saves and projects; returns the --json summary. */
export async function runSst2(cliOpts: Sst2RunOptions): Promise<Sst2Summary> {
  const started = Date.now();
  const resumed = cliOpts.resume !== undefined ? await readSst2Checkpoint(cliOpts.resume) : undefined;
  // A resumed run continues with the settings it started with.
  // (Checkpoints from before --cnn had only LSTM networks, from before --subwords no subword vectors.)
  const saved = resumed ? { cnn: 0, cnnFilters: CNN_FILTERS, subwords: 0, ...resumed.state.options } : undefined;
  if (resumed) checkResumeOptions(cliOpts.resume!, cliOpts.givenOptions, cliOpts as unknown as Record<string, unknown>, saved!, resumed.outDir);
  const opts: Sst2RunOptions = resumed
    ? { ...(saved as unknown as Sst2RunOptions), out: resumed.outDir, json: cliOpts.json, debug: cliOpts.debug, backend: cliOpts.backend, quiet: cliOpts.quiet, resume: undefined, restart: undefined, givenOptions: undefined }
    : cliOpts;
  validateOptions(opts);
  const log = createLogger(opts.json || opts.quiet);
  const data = await loadSst2(opts.dataDir);
  const outDir = await prepareOutDir(opts.out);
  // An interrupted run's checkpoint is kept unless --restart; the previous run's record goes
  // before any output is replaced (run.json is written last).
  if (!resumed) await refuseOrDiscardCheckpoint(outDir, { outArg: opts.out, command: 'dnnkit sst2', restart: opts.restart });
  await invalidateRunRecord(outDir);
  const backend: BackendInfo = await initBackend(opts.backend);
  log.info(`backend ${backend.name}: ${backend.reason}`);
  log.info(`data ${opts.dataDir}: ${data.layout} layout, ${LAYOUTS[data.layout]}; train ${data.train.examples.length}, dev ${data.dev.examples.length}, test ${data.test.examples.length}${data.test.labelled ? '' : ' (unlabelled: no test accuracy)'}`);

  const rng = createRng(opts.seed);
  const trainExamples = opts.trainLimit ? rng.shuffled(data.train.examples).slice(0, opts.trainLimit) : data.train.examples;
  const vocab = buildVocabulary(trainExamples, opts.minCount, opts.maxLen, opts.oovPrefix ?? 0, opts.subwords);
  log.info(`vocabulary ${vocab.tokens.length} words (min count ${opts.minCount}); max length ${vocab.maxLen} tokens; dev OOV ${(100 * oovRate(data.dev.examples, vocab)).toFixed(1)}%${vocab.oovPrefix > 0 ? ` (${(100 * oovRate(data.dev.examples, vocab, true)).toFixed(1)}% without a ${vocab.oovPrefix}-letter prefix entry)` : ''}`);
  if (opts.subwords > 0) {
    const unknown = data.dev.examples.flatMap((e) => e.tokens.filter((t) => !vocab.index.has(t)));
    const grams = unknown.map((t) => tokenSubwords(t, vocab).length);
    log.info(`subword vectors: ${vocab.subwords.length} character ${SUBWORD_NGRAMS.join('- to ')}-grams found in at least ${opts.subwords} training words; `
      + `${(100 * grams.filter((n) => n > 0).length / Math.max(1, unknown.length)).toFixed(1)}% of the unknown dev tokens have some (${(grams.reduce((a, n) => a + n, 0) / Math.max(1, unknown.length)).toFixed(1)} on average)`);
  }
  const train = encodeSplit(trainExamples, vocab);
  const dev = encodeSplit(data.dev.examples, vocab);
  const test = encodeSplit(data.test.examples, vocab);

  const config: Sst2ModelConfig = {
    vocabSize: vocab.tokens.length, embeddingDim: opts.embeddingDim, units: opts.units,
    layers: opts.layers, bidirectional: opts.bidirectional, dropout: opts.dropout, pooling: opts.pooling,
    ...(opts.ensemble !== 1 || opts.cnn > 0 ? { members: opts.ensemble } : {}),
    ...(opts.cnn > 0 ? { cnnMembers: opts.cnn, cnnFilters: opts.cnnFilters, cnnWidths: [...CNN_WIDTHS] } : {}),
    ...(vocab.subwords.length > 0 ? { subwords: vocab.subwords.length } : {}),
  };
  const model = createClassifier(config, opts.seed);
  const optimizer = tf.train.adam(opts.learningRate);
  // Weights that decay (embeddings and kernels; biases do not).
  const decaying = Object.entries(model.namedWeights()).filter(([name]) => !name.endsWith('bias')).map(([, v]) => v as tf.Variable);
  const average = opts.emaDecay > 0 ? new WeightAverage(model.variables, opts.emaDecay) : null;

  const modelDir = path.join(outDir, 'model');
  let rows: EpochMetrics[] = [];
  let best = { epoch: 0, devAcc: -1, devLoss: Infinity };
  let trainSeconds = 0;
  let trainSentences = 0;
  let firstEpoch = 1;
  const nets = model.networks;
  // --early-stopping network: per network, its best epoch so far, and its weights and dev
  // probabilities then (the kept ensemble is made of these).
  const perNetwork = nets.length > 1 && opts.earlyStopping === 'network';
  let networkBest = nets.map(() => ({ epoch: 0, devAcc: -1, devLoss: Infinity }));
  const kept: { weights: tf.NamedTensorMap; devProbs: Float32Array }[] = [];
  const settings = {
    ...Object.fromEntries(Object.keys(SST2_DEFAULTS).map((k) => [k, (opts as unknown as Record<string, unknown>)[k] ?? null])),
    maxLen: vocab.maxLen, seed: opts.seed,
  };
  // Every tensor that --resume needs, by checkpoint name.
  const checkpointTensors = async (): Promise<tf.NamedTensorMap> => ({
    ...Object.fromEntries(Object.entries(model.namedWeights()).map(([k, v]) => [`model/${k}`, v])),
    ...Object.fromEntries((await optimizer.getWeights()).map((w, k) => [`adam/${k}`, w.tensor])),
    ...Object.fromEntries((average?.averaged ?? []).map((v, k) => [`average/${k}`, v])),
  });
  if (resumed) {
    const st = resumed.state;
    const t = resumed.tensors;
    const take = (prefix: string) => Object.keys(t).filter((k) => k.startsWith(prefix)).sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length))).map((k) => t[k]);
    for (const [name, v] of Object.entries(model.namedWeights())) {
      if (!t[`model/${name}`]) throw new InputError(`--resume ${cliOpts.resume}: the checkpoint has no weight ${name}; it belongs to another model, start the run again`);
      (v as tf.Variable).assign(t[`model/${name}`]);
    }
    const adam = take('adam/');
    if (adam.length > 0) {
      await optimizer.setWeights(adam.map((tensor, k) => ({ name: k === 0 ? 'iter' : `acc${k}`, tensor })));
      const powers = optimizer as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
      powers.accBeta1.assign(tf.scalar(st.adamBetaPowers[0]));
      powers.accBeta2.assign(tf.scalar(st.adamBetaPowers[1]));
    }
    if (average) average.restore(take('average/'), st.averageUpdates);
    tf.dispose(Object.values(t));
    rows = st.rows as EpochMetrics[];
    best = st.best;
    if (perNetwork && st.networkBest && st.networkBest.some((b) => b.epoch > 0)) {
      // The kept networks are the ones saved in the model folder.
      networkBest = st.networkBest;
      const { model: saved } = await loadClassifier(modelDir);
      try {
        for (const net of saved.networks) kept.push({ weights: cloneWeights(net), devProbs: (await predictSplit(net, dev, 128)).probs });
      } finally {
        saved.dispose();
      }
    }
    trainSeconds = st.trainSeconds;
    trainSentences = st.trainSentences;
    firstEpoch = st.epoch;
    log.info(`resuming at epoch ${st.epoch}, batch ${st.batch + 1}`);
  }
  const interrupts = watchInterrupts(log);

  try {
    const trainLengths = train.ids.map((ids) => ids.length);
    for (let epoch = firstEpoch; epoch <= opts.epochs; epoch++) {
      const t0 = Date.now();
      const resumeHere = resumed && epoch === resumed.state.epoch ? resumed.state : undefined;
      if (resumeHere) rng.setState(resumeHere.rngAtEpochStart);
      const rngAtEpochStart = rng.getState();
      // The networks that train this epoch: all, except with --early-stopping network those
      // that have not improved for `patience` epochs.
      const training = perNetwork ? nets.filter((_, k) => epoch - 1 - networkBest[k].epoch < opts.patience) : nets;
      // Each network of an ensemble gets its own order of the batches and its own word dropout, as
      // it would in a run of its own (the first network's draws come first, as in a single run).
      const memberBatches = training.map(() => lengthBatches(trainLengths, opts.batchSize, rng));
      const batches = memberBatches[0];
      if (resumeHere) resumed!.checker.int('batch', 0, batches.length);
      const progress = createProgress({ total: train.ids.length, label: `epoch ${epoch}/${opts.epochs}`, quiet: opts.json || opts.quiet });
      let lossSum = resumeHere?.partial.lossSum ?? 0;
      let correct = resumeHere?.partial.correct ?? 0;
      let seen = resumeHere?.partial.seen ?? 0;
      const earlierSeconds = resumeHere?.partial.seconds ?? 0;
      if (resumeHere) rng.setState(resumeHere.rng);
      for (let b = resumeHere?.batch ?? 0; b < batches.length; b++) {
        const idxs = memberBatches.map((mb) => mb[b]);
        const inputs = idxs.map((idx) => batchTensors(train, idx, opts.wordDropout, rng));
        const loss = (k: number, logits: tf.Tensor1D) => tf.losses.sigmoidCrossEntropy(inputs[k].labels, logits) as tf.Scalar;
        const perturbations = opts.adversarial > 0
          ? training.map((net, k) => adversarialPerturbation(net, inputs[k].ids, (l) => loss(k, l), opts.adversarial, rng, inputs[k].subwords))
          : undefined;
        const probs: tf.Tensor1D[] = [];
        // Each network's loss on its unperturbed batch (reported).
        const cleanLosses: tf.Scalar[] = [];
        // The sum, not the mean, of the members' losses: each member's weights get exactly the
        // gradient of its own loss. (A mean would scale it by 1 / members, which Adam undoes
        // except against its epsilon, and that slows the rarely seen word vectors.)
        const { value, grads } = tf.variableGrads(() => {
          const terms = training.flatMap((net, k) => {
            const { logits } = net.forward(inputs[k].ids, { training: true, rng, subwords: inputs[k].subwords });
            probs.push(tf.keep(tf.sigmoid(logits)));
            const clean = loss(k, logits);
            cleanLosses.push(tf.keep(clean));
            return perturbations ? [clean, loss(k, net.forward(inputs[k].ids, { training: true, rng, perturbation: perturbations[k], subwords: inputs[k].subwords }).logits)] : [clean];
          });
          return (terms.length === 1 ? terms[0] : tf.addN(terms)) as tf.Scalar;
        }, training.flatMap((net) => net.variables));
        if (perturbations) tf.dispose(perturbations);
        // Clipped per member: an ensemble member's steps are the ones it would take alone.
        // Networks that have stopped get zero gradients: Adam keeps its moments by position in
        // the gradient list, so every step must list all variables in the same order (their
        // weights still drift with Adam's momentum, but the kept copies are what counts).
        const clipped = tf.tidy(() => {
          if (opts.clipNorm <= 0 && training.length === nets.length) return grads;
          const out: tf.NamedTensorMap = {};
          for (const group of nets.map((net) => net.variables)) {
            if (!grads[group[0].name]) {
              group.forEach((v) => (out[v.name] = tf.zerosLike(v))); // a network that has stopped
              continue;
            }
            const gs = group.map((v) => grads[v.name]);
            const scale = opts.clipNorm > 0
              ? tf.minimum(1, tf.div(opts.clipNorm, tf.maximum(tf.sqrt(tf.addN(gs.map((g) => tf.sum(tf.square(g))))), 1e-6)))
              : tf.scalar(1);
            group.forEach((v, k) => (out[v.name] = tf.mul(gs[k], scale)));
          }
          return out;
        });
        optimizer.applyGradients(clipped as tf.NamedTensorMap as never);
        if (opts.weightDecay > 0) decayWeights(decaying, opts.learningRate * opts.weightDecay);
        average?.update();
        const lossVals = await Promise.all(cleanLosses.map((l) => l.data()));
        const probVals = await Promise.all(probs.map((p) => p.data()));
        tf.dispose([value, ...probs, ...inputs.flatMap((t) => [t.ids, t.labels, ...disposeSubwords(t.subwords)]), ...cleanLosses.filter((l) => l !== value), ...Object.values(grads), ...(clipped === grads ? [] : Object.values(clipped))]);
        const bad = lossVals.find((l) => !Number.isFinite(l[0]));
        if (bad) throw divergedError('loss', bad[0], epoch, b + 1, opts);
        // Per epoch every network sees every sentence once: the counts are averaged over the networks.
        idxs.forEach((idx, k) => {
          lossSum += (lossVals[k][0] * idx.length) / training.length;
          idx.forEach((i, j) => { if ((probVals[k][j] >= 0.5 ? 1 : 0) === train.labels[i]) correct += 1 / training.length; });
          seen += idx.length / training.length;
        });
        progress.update(Math.round(seen), { loss: lossSum / seen, acc: correct / seen });
        await yieldToEventLoop(); // signal handlers run here
        if (interrupts.requested()) {
          progress.stop();
          const { resume: _r, restart: _rs, givenOptions: _g, json: _j, debug: _d, backend: _b, quiet: _q, threads: _t, ...options } = opts;
          const powers = optimizer as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
          const ckpt = await writeSst2Checkpoint(outDir, {
            version: 1, options, epoch, batch: b + 1, rngAtEpochStart, rng: rng.getState(),
            partial: { lossSum, correct, seen, seconds: earlierSeconds + (Date.now() - t0) / 1000 },
            rows, best, trainSeconds, trainSentences, ...(perNetwork ? { networkBest } : {}),
            adamBetaPowers: [powers.accBeta1.dataSync()[0], powers.accBeta2.dataSync()[0]],
            averageUpdates: average?.updateCount ?? 0,
          }, await checkpointTensors());
          const resumeCmd = `dnnkit sst2 --resume ${path.relative(process.cwd(), outDir) || '.'}`;
          log.warn(`interrupted at epoch ${epoch}, batch ${b + 1}/${batches.length}: checkpoint saved in ${ckpt}; continue with: ${resumeCmd}`);
          process.exitCode = 130;
          return {
            devAccuracy: best.devAcc, testAccuracy: null, testLoss: null, epochs: rows.length, bestEpoch: best.epoch, backend: backend.name,
            layout: data.layout, vocabularySize: vocab.tokens.length, maxLen: vocab.maxLen, parameters: model.parameterCount,
            trainSentencesPerSecond: NaN, seconds: (Date.now() - started) / 1000, seed: opts.seed, outDir, projection: null, interrupted: true,
          };
        }
      }
      progress.stop();
      const trainTime = earlierSeconds + (Date.now() - t0) / 1000;
      trainSeconds += trainTime;
      trainSentences += seen;
      average?.swap(); // evaluate and save the averaged weights
      let devM: { loss: number; acc: number };
      let improved: boolean;
      let networkNote = '';
      let networkAccs: (number | null)[] | undefined;
      if (perNetwork) {
        // Each network that trained is compared with its own best; the dev metrics of the epoch
        // are the kept ensemble's (every network at its best epoch so far).
        const better: number[] = [];
        networkAccs = [];
        for (const [k, net] of nets.entries()) {
          if (!training.includes(net)) {
            networkAccs.push(null);
            continue;
          }
          const { probs } = await predictSplit(net, dev, 128);
          const m = lossAndAccuracy(probs, dev.labels);
          networkAccs.push(m.acc);
          if (m.acc > networkBest[k].devAcc) {
            networkBest[k] = { epoch, devAcc: m.acc, devLoss: m.loss };
            if (kept[k]) tf.dispose(Object.values(kept[k].weights));
            kept[k] = { weights: cloneWeights(net), devProbs: probs };
            better.push(k + 1);
          }
        }
        devM = lossAndAccuracy(meanProbs(kept.map((n) => n.devProbs)), dev.labels);
        improved = better.length > 0;
        networkNote = ` | networks' dev acc ${networkAccs.map((a) => (a === null ? '-' : (100 * a).toFixed(1))).join(' ')}${improved ? `, better: ${better.join(', ')}` : ''}`;
      } else {
        devM = lossAndAccuracy((await predictSplit(model, dev, 128)).probs, dev.labels);
        improved = devM.acc > best.devAcc;
      }
      if (!Number.isFinite(devM.loss)) throw divergedError('dev loss', devM.loss, epoch, undefined, opts);
      const row: EpochMetrics = { epoch, loss: lossSum / seen, acc: correct / seen, dev_loss: devM.loss, dev_acc: devM.acc, seconds: earlierSeconds + (Date.now() - t0) / 1000, ...(networkAccs ? { networks: networkAccs } : {}) };
      rows.push(row);
      log.info(`epoch ${epoch}: loss ${row.loss.toFixed(4)} acc ${row.acc.toFixed(4)} | dev loss ${row.dev_loss.toFixed(4)} acc ${row.dev_acc.toFixed(4)}${networkNote} | ${row.seconds.toFixed(1)} s, ${(seen / trainTime).toFixed(0)} sentences/s${improved ? ` (${perNetwork ? 'kept ensemble' : 'best so far'}, saved)` : ''}`);
      if (improved) {
        best = { epoch, devAcc: devM.acc, devLoss: devM.loss };
        if (perNetwork) {
          const keptModel = createClassifier(config, opts.seed, Object.fromEntries(kept.flatMap((n, k) => Object.entries(n.weights).map(([name, t]) => [memberPrefix(k) + name, t]))));
          try {
            await saveClassifier(keptModel, vocab, modelDir, { epoch, networkEpochs: networkBest.map((b) => b.epoch), devAccuracy: devM.acc, seed: opts.seed, settings });
          } finally {
            keptModel.dispose();
          }
        } else {
          await saveClassifier(model, vocab, modelDir, { epoch, devAccuracy: devM.acc, seed: opts.seed, settings });
        }
      }
      average?.swap(); // back to the raw weights for training
      await writeCsv(path.join(outDir, 'metrics.csv'), ['epoch', 'loss', 'acc', 'dev_loss', 'dev_acc', 'seconds', ...(perNetwork ? nets.map((_, k) => `dev_acc_net${k + 1}`) : [])],
        rows.map((r) => [r.epoch, r.loss, r.acc, r.dev_loss, r.dev_acc, r.seconds, ...(perNetwork ? nets.map((_, k) => r.networks?.[k] ?? '') : [])]));
      if (epoch - best.epoch >= opts.patience) {
        log.info(perNetwork
          ? `early stopping: no network has had a better dev accuracy for ${opts.patience} epochs; kept epochs ${networkBest.map((b) => b.epoch).join(', ')}`
          : `early stopping: no better dev accuracy for ${opts.patience} epochs; best epoch ${best.epoch}`);
        break;
      }
    }
  } finally {
    for (const n of kept) tf.dispose(Object.values(n.weights));
    interrupts.dispose();
    optimizer.dispose();
    average?.dispose();
    model.dispose();
  }
  await removeCheckpoint(outDir);

  // Evaluate the kept (best-dev) checkpoint, read back from disk: what the user gets.
  const { model: bestModel } = await loadClassifier(modelDir);
  const parameters = bestModel.parameterCount;
  let projection: ProjectionSummary | null = null;
  let testM: { loss: number; acc: number } | null = null;
  let devM: { loss: number; acc: number };
  try {
    const devOut = await predictSplit(bestModel, dev, 128, opts.layer);
    const testOut = await predictSplit(bestModel, test, 128, opts.layer);
    devM = lossAndAccuracy(devOut.probs, dev.labels);
    if (data.test.labelled) testM = lossAndAccuracy(testOut.probs, test.labels);
    const featureRows: (string | number)[][] = [];
    const dim = devOut.features[0]?.length ?? 0;
    const add = (name: string, split: EncodedSplit, out: { probs: Float32Array; features: Float32Array[] }) => {
      split.examples.forEach((e, i) => featureRows.push([e.id, name, e.label ?? '', out.probs[i] >= 0.5 ? 1 : 0, ...Array.from(out.features[i])]));
    };
    add('dev', dev, devOut);
    add('test', test, testOut);
    await writeCsv(path.join(outDir, 'features.csv'), ['id', 'split', 'label', 'predicted', ...Array.from({ length: dim }, (_, j) => `f${j}`)], featureRows);
    log.info(`features: layer '${opts.layer}', ${dim} dimensions, ${featureRows.length} sentences -> features.csv`);
    if (opts.embedPlot !== 'none') {
      const labelled = featureRows.filter((r) => r[2] !== '');
      const name = (v: string | number) => (Number(v) === 1 ? 'positive' : 'negative');
      projection = await projectFeatures({
        points: labelled.map((r) => r.slice(4) as number[]),
        labels: labelled.map((r) => name(r[2])),
        predicted: labelled.map((r) => name(r[3])),
        method: opts.embedPlot,
        outDir,
        title: `SST-2 ${data.test.labelled ? 'dev+test' : 'dev'} sentences, layer '${opts.layer}' (${dim}-d${nets.length > 1 ? `: ${nets.length} networks concatenated` : ''})`,
        seed: opts.seed,
        quiet: opts.json || opts.quiet,
      });
    }
  } finally {
    bestModel.dispose();
  }

  const lastEpoch = rows.length;
  await writeChart(path.join(outDir, 'curves'), curvesSpec(rows, best.epoch,
    `SST-2 ${describeModel(opts)}${opts.subwords > 0 ? ', subword vectors' : ''}${opts.adversarial > 0 ? `, adversarial ${opts.adversarial}` : ''}, seed ${opts.seed}`, perNetwork));
  const summary: Sst2Summary = {
    devAccuracy: devM!.acc,
    testAccuracy: testM ? testM.acc : null,
    testLoss: testM ? testM.loss : null,
    epochs: lastEpoch,
    bestEpoch: best.epoch,
    ...(perNetwork ? { networkBestEpochs: networkBest.map((b) => b.epoch) } : {}),
    backend: backend.name,
    layout: data.layout,
    vocabularySize: vocab.tokens.length,
    maxLen: vocab.maxLen,
    parameters,
    trainSentencesPerSecond: trainSentences / Math.max(trainSeconds, 1e-9),
    seconds: (Date.now() - started) / 1000,
    seed: opts.seed,
    outDir,
    projection,
  };
  // Last: run.json describes the files above (with their SHA-256).
  const outputs = [
    ...[MODEL_JSON, WEIGHTS_BIN, VOCAB_FILE].map((f) => path.join('model', f)), 'metrics.csv', 'features.csv', 'curves.svg', 'curves.png',
    ...(projection ? ['projection-summary.csv', ...projection.results.flatMap((r) => r.files.map((f) => path.relative(outDir, f)))] : []),
  ];
  await writeRunRecord(outDir, {
    command: 'sst2',
    settings,
    model: config,
    data: { dir: opts.dataDir, layout: data.layout, train: trainExamples.length, dev: dev.ids.length, test: test.ids.length, testLabelled: data.test.labelled },
    backend,
    versions: { dnnkit: packageVersion(), tfjs: tf.version.tfjs, node: process.version },
    seed: opts.seed,
    result: summary,
  }, outputs);
  log.result(`best epoch ${best.epoch}: dev accuracy ${(100 * summary.devAccuracy).toFixed(2)}%${testM ? `, test accuracy ${(100 * testM.acc).toFixed(2)}%` : ''} -> ${outDir}`);
  return summary;
}
