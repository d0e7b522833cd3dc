/** Gradients of the MNIST CNN's loss agree between wasm (with dnnkit's kernels) and cpu. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { seedGlobalRandom } from '../../src/core/rng.js';
import { buildMnistCnn } from '../../src/mnist/model.js';
import { loadMnist } from '../../src/mnist/data.js';
import { makeBatch } from '../../src/mnist/train.js';

async function lossGradients(backend: string, model: tf.LayersModel, x: Float32Array, y: Float32Array, n: number) {
  await tf.setBackend(backend);
  const xs = tf.tensor4d(x, [n, 28, 28, 1]);
  const ys = tf.tensor2d(y, [n, 10]);
  const { value, grads } = tf.variableGrads(() =>
    tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: false }) as tf.Tensor) as tf.Scalar);
  const out: Record<string, Float32Array> = { loss: value.dataSync() as Float32Array };
  for (const [k, g] of Object.entries(grads)) out[k] = g.dataSync() as Float32Array;
  tf.dispose([xs, ys, value, ...Object.values(grads)]);
  return out;
}

test('MNIST CNN loss gradients: wasm matches cpu within 1e-4', async () => {
  await initBackend('wasm');
  const { restore } = seedGlobalRandom(3);
  const model = buildMnistCnn();
  restore();
  const data = await loadMnist();
  const { x, y } = makeBatch(data.test, Array.from({ length: 4 }, (_, i) => i));
  const xv = x.dataSync() as Float32Array;
  const yv = y.dataSync() as Float32Array;
  tf.dispose([x, y]);
  const wasm = await lossGradients('wasm', model, xv, yv, 4);
  const cpu = await lossGradients('cpu', model, xv, yv, 4);
  assert.deepEqual(Object.keys(wasm).sort(), Object.keys(cpu).sort());
  assert.ok(Object.keys(wasm).length >= 9, 'loss + 8 weight tensors');
  for (const k of Object.keys(cpu)) {
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < cpu[k].length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(cpu[k][i] - wasm[k][i]));
      maxAbs = Math.max(maxAbs, Math.abs(cpu[k][i]));
    }
    assert.ok(maxAbs > 0 || k === 'loss', `${k} gradient is not all zero`);
    assert.ok(maxDiff <= 1e-4, `${k}: max |wasm - cpu| = ${maxDiff}`);
  }
  await tf.setBackend('wasm');
  model.dispose();
});
