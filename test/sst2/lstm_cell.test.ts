import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { createRng } from '../../src/core/rng.js';
import { referenceLstm } from './reference_lstm.js';
import { lstmLayer } from '../../src/sst2/lstm_cell.js';

function randomTensor(shape: number[], seed: number, scale = 0.5): tf.Tensor {
  const rng = createRng(seed);
  return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale), shape);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

for (const backend of ['wasm', 'cpu'] as const) {
  test(`fused LSTM layer = textbook LSTM in values and gradients (${backend}, both directions)`, async () => {
    await initBackend(backend);
    const [time, batch, inDim, units] = [5, 3, 4, 6];
    const x = randomTensor([time, batch, inDim], 1) as tf.Tensor3D;
    const wx = randomTensor([inDim, 4 * units], 2) as tf.Tensor2D;
    const wh = randomTensor([units, 4 * units], 3) as tf.Tensor2D;
    const b = randomTensor([4 * units], 4) as tf.Tensor1D;
    // A loss that weighs every h_t differently, so each gradient path matters.
    const weights = randomTensor([time, batch, units], 5);
    for (const reverse of [false, true]) {
      const before = tf.memory().numTensors;
      const lossOf = (f: typeof lstmLayer) => (xi: tf.Tensor, a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
        tf.sum(tf.mul(f(xi as tf.Tensor3D, a as tf.Tensor2D, c as tf.Tensor2D, d as tf.Tensor1D, reverse), weights));
      const fused = tf.tidy(() => [lstmLayer(x, wx, wh, b, reverse), ...tf.grads(lossOf(lstmLayer))([x, wx, wh, b])]);
      assert.equal(tf.memory().numTensors, before + 5, 'no leaked tensors');
      const ref = tf.tidy(() => [referenceLstm(x, wx, wh, b, reverse), ...tf.grads(lossOf(referenceLstm))([x, wx, wh, b])]);
      ['h', 'dx', 'dWx', 'dWh', 'db'].forEach((name, i) => {
        assert.deepEqual(fused[i].shape, ref[i].shape, name);
        assert.ok(maxAbsDiff(fused[i], ref[i]) < 1e-5, `${name} differs by ${maxAbsDiff(fused[i], ref[i])} (reverse ${reverse})`);
      });
      tf.dispose([...fused, ...ref]);
    }
    tf.dispose([x, wx, wh, b, weights]);
  });
}
