/**
 * The settings of `dnnkit sst2`: the typed options with a doc comment each, their defaults in one
 * place (SST2_DEFAULTS), the checks of values that depend on each other, and the record of the
 * settings a run used.
 */
import type { CommonOptions } from '../core/command.js';
import { UsageError } from '../core/errors.js';
import { PROJECTION_CHOICES, type ProjectionChoice, type ProjectionSummary } from '../project/index.js';
import { CNN_FILTERS, CNN_WIDTHS } from './cnn.js';
import { POOLINGS, type Pooling } from './config.js';
import { featureLayerNames } from './model.js';

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
  patience: 2,
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

/** The networks of a run in words, e.g. `5 x LSTM (1 layer, bidirectional, 128 units) + 2 x CNN (...)`. */
export function describeModel(opts: Pick<Sst2TrainOptions, 'ensemble' | 'cnn' | 'cnnFilters' | 'layers' | 'bidirectional' | 'units'>): string {
  const alone = opts.ensemble + opts.cnn === 1;
  const parts = [
    ...(opts.ensemble > 0 ? [`${alone ? '' : `${opts.ensemble} x `}LSTM (${opts.layers} layer${opts.layers > 1 ? 's' : ''}${opts.bidirectional ? ', bidirectional' : ''}, ${opts.units} units)`] : []),
    ...(opts.cnn > 0 ? [`${alone ? '' : `${opts.cnn} x `}CNN (widths ${CNN_WIDTHS.join('/')}, ${opts.cnnFilters} filters each)`] : []),
  ];
  return parts.join(' + ');
}

/** The settings a run used, as run.json and the saved model record them (every option, with --max-len resolved). */
export function runSettings(opts: Sst2TrainOptions & { seed: number }, maxLen: number): Record<string, unknown> {
  return {
    ...Object.fromEntries(Object.keys(SST2_DEFAULTS).map((k) => [k, (opts as unknown as Record<string, unknown>)[k] ?? null])),
    maxLen, seed: opts.seed,
  };
}
