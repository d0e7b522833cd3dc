/**
 * Tiny seeded tfjs models for the explainer tests: a sequential CNN with a softmax output, a
 * functional CNN with a skip connection (ResNet-like add), and a CAM-style model (conv -> global
 * average pooling -> dense) whose Grad-CAM is known in closed form.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';

const init = (seed: number) => tf.initializers.glorotNormal({ seed });

/** [12, 12, 1] -> conv(4) -> conv(6) -> flatten -> dense(3, activation). */
export function sequentialCnn(activation: 'softmax' | 'linear' = 'softmax', seed = 1): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 4, kernelSize: 3, activation: 'relu', name: 'conv1', kernelInitializer: init(seed) }));
  m.add(tf.layers.conv2d({ filters: 6, kernelSize: 3, activation: 'relu', name: 'conv2', kernelInitializer: init(seed + 1), biasInitializer: tf.initializers.constant({ value: 0.05 }) }));
  m.add(tf.layers.flatten({ name: 'flatten' }));
  m.add(tf.layers.dense({ units: 3, activation, name: 'dense', kernelInitializer: init(seed + 2) }));
  return m;
}

/** [10, 10, 3] -> conv a -> conv b -> add(a, b) -> relu -> conv c -> GAP -> dense(4): a skip connection. */
export function skipCnn(seed = 7): tf.LayersModel {
  const x = tf.input({ shape: [10, 10, 3], name: 'image' });
  const a = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'a', kernelInitializer: init(seed) }).apply(x) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'b', kernelInitializer: init(seed + 1) }).apply(a) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'add' }).apply([a, b]) as tf.SymbolicTensor;
  const r = tf.layers.activation({ activation: 'relu', name: 'relu' }).apply(sum) as tf.SymbolicTensor;
  const c = tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c', kernelInitializer: init(seed + 2) }).apply(r) as tf.SymbolicTensor;
  const g = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(c) as tf.SymbolicTensor;
  const y = tf.layers.dense({ units: 4, name: 'fc', kernelInitializer: init(seed + 3) }).apply(g) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: y });
}

/** [8, 8, 2] -> conv(5, relu) -> GAP -> dense(3): Grad-CAM = ReLU(sum_k W[k,c] A^k) up to scale. */
export function camCnn(seed = 3): tf.LayersModel {
  const x = tf.input({ shape: [8, 8, 2] });
  const c = tf.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', name: 'features', kernelInitializer: init(seed) }).apply(x) as tf.SymbolicTensor;
  const g = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(c) as tf.SymbolicTensor;
  const y = tf.layers.dense({ units: 3, name: 'fc', kernelInitializer: init(seed + 1), useBias: true }).apply(g) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: y });
}

/** A seeded random input batch [n, h, w, c] in [0, 1]. */
export function randomInput(shape: [number, number, number, number], seed = 11): tf.Tensor4D {
  return tf.randomUniform(shape, 0, 1, 'float32', seed) as tf.Tensor4D;
}

/** The largest absolute element-wise difference (the lengths must agree). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
