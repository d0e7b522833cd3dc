/**
 * Parameter randomisation (explain/randomize.ts): grouping and cascade order, only the chosen
 * layers change, batch-norm moving statistics are kept, the redraws keep each tensor's mean and
 * std, the same seed gives the same draws, and restore gives back the exact original values.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { buildMnistCnn } from '../../src/mnist/model.js';
import { blockOf, parameterGroups, randomizeLayers } from '../../src/explain/randomize.js';

before(async () => {
  await initBackend();
});

/** A functional model with ResNet-style names: stem -> block.0 (conv, bn) -> block.1 (conv, bn) -> GAP -> head. */
function blockModel(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 2] });
  let x = tf.layers.conv2d({ name: 'stem', filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  for (const b of ['block.0', 'block.1']) {
    x = tf.layers.conv2d({ name: `${b}.conv`, filters: 3, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: `${b}.bn` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.activation({ name: `${b}.relu`, activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'head', units: 4 }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  // Batch-norm starts at gamma 1, beta 0, mean 0, var 1 (std 0: nothing to redraw); give it values.
  for (const b of ['block.0', 'block.1']) {
    const bn = model.getLayer(`${b}.bn`);
    bn.setWeights(bn.getWeights().map((w, i) => tf.tidy(() => tf.randomUniform(w.shape, 0.5, 1.5, 'float32', 10 + i))));
    const conv = model.getLayer(`${b}.conv`);
    conv.setWeights([conv.getWeights()[0], tf.tidy(() => tf.randomUniform([3], -0.1, 0.1, 'float32', 5))]);
  }
  // head's bias stays all zero (std 0): it is kept as it is.
  return model;
}

/** Every weight of the model, by variable name. */
function snapshot(model: tf.LayersModel): Map<string, Float32Array> {
  return new Map(model.weights.map((w) => [w.name, Float32Array.from(w.read().dataSync() as Float32Array)]));
}

function changed(a: Map<string, Float32Array>, b: Map<string, Float32Array>): string[] {
  return [...a.keys()].filter((k) => a.get(k)!.some((v, i) => v !== b.get(k)![i]));
}

test('groups: ResNet-style blocks and single layers, ordered from the output down', () => {
  assert.equal(blockOf('layer4.1.conv1'), 'layer4.1');
  assert.equal(blockOf('layer4.0.downsample.0'), 'layer4.0');
  assert.equal(blockOf('features.28'), 'features.28');
  assert.equal(blockOf('fc'), 'fc');
  const model = blockModel();
  assert.deepEqual(parameterGroups(model, 'block'), [
    { name: 'head', layers: ['head'] },
    { name: 'block.1', layers: ['block.1.conv', 'block.1.bn'] },
    { name: 'block.0', layers: ['block.0.conv', 'block.0.bn'] },
    { name: 'stem', layers: ['stem'] },
  ]);
  assert.deepEqual(parameterGroups(model, 'layer').map((g) => g.name), ['head', 'block.1.bn', 'block.1.conv', 'block.0.bn', 'block.0.conv', 'stem']);
  const cnn = buildMnistCnn({ filters: [2, 3], denseUnits: 4 });
  assert.deepEqual(parameterGroups(cnn).map((g) => g.name), ['logits', 'dense1', 'conv2', 'conv1'], 'pooling, flatten and dropout have no parameters');
  model.dispose();
  cnn.dispose();
});

test('randomizeLayers changes exactly the chosen layers (not batch-norm statistics), keeps mean and std, and restores the originals exactly', () => {
  const model = blockModel();
  const before = snapshot(model);
  const tensors = tf.memory().numTensors;
  const restore = randomizeLayers(model, ['block.1.conv', 'block.1.bn'], 7);
  const after = snapshot(model);
  const base = (names: string[]) => names.map((n) => n.replace(/_\d+$/, '')).sort();
  assert.deepEqual(base(changed(before, after)), ['block.1.bn/beta', 'block.1.bn/gamma', 'block.1.conv/bias', 'block.1.conv/kernel'],
    'kernel, bias, gamma and beta of block.1 change; its moving mean and variance and every other layer do not');
  const restoreHead = randomizeLayers(model, ['head'], 7);
  assert.deepEqual(base(changed(after, snapshot(model))), ['head/kernel'], 'a tensor with std 0 (the zero bias) is kept');
  restoreHead();
  // The redrawn kernel has about the original's mean and std (N(mean, std), 81 values).
  const key = [...before.keys()].find((k) => k.startsWith('block.1.conv/kernel'))!;
  const stats = (v: Float32Array) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    return [m, Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length)];
  };
  const [m0, s0] = stats(before.get(key)!);
  const [m1, s1] = stats(after.get(key)!);
  assert.ok(Math.abs(m1 - m0) < 0.5 * s0 && Math.abs(s1 / s0 - 1) < 0.35, `mean ${m0} -> ${m1}, std ${s0} -> ${s1}`);
  restore();
  assert.deepEqual(changed(before, snapshot(model)), [], 'every weight is back, bit for bit');
  assert.equal(tf.memory().numTensors, tensors, 'the saved copies are freed');
  model.dispose();
});

test('the same seed gives the same draws (also in a cascade: one layer at a time = both at once); another seed or stream differs', () => {
  const model = blockModel();
  const r1 = randomizeLayers(model, ['head'], 3);
  const r2 = randomizeLayers(model, ['block.1.conv', 'block.1.bn'], 3);
  const cascade = snapshot(model);
  r2();
  r1();
  const rBoth = randomizeLayers(model, ['head', 'block.1.conv', 'block.1.bn'], 3);
  assert.deepEqual(changed(cascade, snapshot(model)), [], 'per-layer streams: the order of randomisation does not matter');
  rBoth();
  const rOther = randomizeLayers(model, ['head'], 4);
  const other = snapshot(model);
  rOther();
  const rAll = randomizeLayers(model, ['head'], 3, 'all');
  const all = snapshot(model);
  rAll();
  const headKernel = [...cascade.keys()].find((k) => k.startsWith('head/kernel'))!;
  assert.notDeepEqual(other.get(headKernel), cascade.get(headKernel), 'seed 4 differs from seed 3');
  assert.notDeepEqual(all.get(headKernel), cascade.get(headKernel), "stream 'all' differs from 'cascade'");
  model.dispose();
});
