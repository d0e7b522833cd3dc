/**
 * The MNIST CNN: two conv-pool stages and a dense head with dropout, after the Keras
 * mnist_cnn example (99.25% test accuracy reported after 12 epochs) and the benchmark network
 * of the performance issue (conv32-pool-conv64-pool-dense128-dense10).
 *
 *   input [28, 28, 1]
 *   conv1   3x3x32, ReLU      -> [26, 26, 32]
 *   pool1   2x2 max           -> [13, 13, 32]
 *   conv2   3x3x64, ReLU      -> [11, 11, 64]
 *   pool2   2x2 max           -> [5, 5, 64]
 *   flatten, dropout          -> [1600]
 *   dense1  128, ReLU, dropout
 *   logits  10, softmax       -> class probabilities
 */
import * as tf from '@tensorflow/tfjs';
import { installFusedAdam } from '../core/optim.js';

export interface MnistCnnConfig {
  /** Filters of the first and second conv layers. */
  filters: [number, number];
  /** Units of the hidden dense layer. */
  denseUnits: number;
  /** Dropout rate after the conv stages and after the hidden dense layer. */
  dropout: [number, number];
  /** Adam learning rate. */
  learningRate: number;
  rows: number;
  cols: number;
}

export const MNIST_CNN_DEFAULTS: MnistCnnConfig = {
  filters: [32, 64],
  denseUnits: 128,
  dropout: [0.25, 0.5],
  learningRate: 1e-3,
  rows: 28,
  cols: 28,
};

/** Builds and compiles the CNN (Adam, categorical cross-entropy, accuracy). */
export function buildMnistCnn(config: Partial<MnistCnnConfig> = {}): tf.Sequential {
  const c = { ...MNIST_CNN_DEFAULTS, ...config };
  const model = tf.sequential({ name: 'mnist_cnn' });
  model.add(tf.layers.conv2d({ name: 'conv1', inputShape: [c.rows, c.cols, 1], filters: c.filters[0], kernelSize: 3, activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }));
  model.add(tf.layers.conv2d({ name: 'conv2', filters: c.filters[1], kernelSize: 3, activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }));
  model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(tf.layers.dropout({ name: 'dropout1', rate: c.dropout[0] }));
  model.add(tf.layers.dense({ name: 'dense1', units: c.denseUnits, activation: 'relu' }));
  model.add(tf.layers.dropout({ name: 'dropout2', rate: c.dropout[1] }));
  model.add(tf.layers.dense({ name: 'logits', units: 10, activation: 'softmax' }));
  compileMnistCnn(model, c.learningRate);
  return model;
}

/** (Re)compiles a model for training with Adam at `learningRate` (the fused step where it can: core/optim.ts). */
export function compileMnistCnn(model: tf.LayersModel, learningRate: number): void {
  const optimizer = tf.train.adam(learningRate);
  installFusedAdam(optimizer);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
}
