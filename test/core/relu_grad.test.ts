/**
 * dnnkit's Relu gradient (src/core/kernels/relu_grad.ts: the one-pass kernel DnnkitReluGrad on
 * wasm) against tfjs's formula mul(dy, cast(step(x))) on the cpu backend: bit-identical values on
 * the shapes ResNet-18 uses and on the edge values (0, -0, NaN, +-Infinity in x), through tf.grad
 * of tf.relu, and the second-order gradient. Also the copy-free Identity (src/core/kernels/identity.ts):
 * a clone has the values, survives its original's disposal, and frees the memory with the last one.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { RELU_GRAD } from '../../src/core/kernels/relu_grad.js';
import { createRng } from '../../src/core/rng.js';

const rng = createRng(5);
const randn = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

before(async () => {
  await initBackend('wasm');
});

/** d(sum(dy * relu(x)))/dx on `backend`. */
async function reluGrad(backend: string, x: Float32Array, dy: Float32Array, shape: number[]): Promise<Float32Array> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const d = tf.tensor(dy, shape);
    return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), d)))(tf.tensor(x, shape)).dataSync() as Float32Array;
  });
}

const SHAPES = [[7], [2, 3, 4, 5], [2, 112, 112, 64], [3, 56, 56, 64], [2, 7, 7, 512]];

for (const shape of SHAPES) {
  test(`Relu gradient on wasm (DnnkitReluGrad) = tfjs's step formula on cpu: [${shape}]`, async () => {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randn(n);
    x[0] = 0;
    const dy = randn(n);
    const want = await reluGrad('cpu', x, dy, shape);
    const got = await reluGrad('wasm', x, dy, shape);
    assert.equal(got.length, want.length);
    let bad = 0;
    for (let i = 0; i < n; i++) if (got[i] !== want[i]) bad++;
    assert.equal(bad, 0, `${bad} of ${n} values differ`);
  });
}

test('edge values: x = 0, -0, NaN, +-Infinity', async () => {
  const x = Float32Array.from([0, -0, NaN, Infinity, -Infinity, 1e-30, -1e-30, 2]);
  const dy = Float32Array.from([1, 2, 3, 4, 5, 6, 7, -8]);
  const want = await reluGrad('cpu', x, dy, [8]);
  const got = await reluGrad('wasm', x, dy, [8]);
  assert.deepEqual(Array.from(got), Array.from(want));
  assert.deepEqual(Array.from(got), [0, 0, NaN, 4, 0, 6, 0, -8]);
});

test('the wasm gradient runs the one-pass kernel (no Step, no Cast)', async () => {
  await tf.setBackend('wasm');
  const x = tf.randomNormal([4, 8, 8, 3]);
  const info = await tf.profile(() => { tf.grad((t: tf.Tensor) => tf.relu(t).sum())(x).dispose(); });
  const names = info.kernels.map((k) => k.name);
  assert.ok(names.includes(RELU_GRAD), names.join(', '));
  assert.ok(!names.includes('Step') && !names.includes('Cast'), names.join(', '));
  x.dispose();
});

test('second order: d/dx of <v, dRelu(x)/dx * w> through the kernel equals the cpu result', async () => {
  const n = 40;
  const x = randn(n);
  const w = randn(n);
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const wt = tf.tensor1d(w);
      // g(x) = grad of sum(w * relu(x)) = w * step(x); then d sum(g(x) * x) / dx = w * step(x) (+ 0 from step').
      const g = (t: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.relu(u), wt)))(t);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(g(t), t)))(tf.tensor1d(x)).dataSync() as Float32Array;
    });
  };
  const want = await run('cpu');
  const got = await run('wasm');
  assert.deepEqual(Array.from(got), Array.from(want));
  await tf.setBackend('wasm');
});

test('Identity on wasm: tf.clone shares memory, outlives the original, frees with the last reference', async () => {
  await tf.setBackend('wasm');
  const before = tf.memory().numDataBuffers;
  const x = tf.tensor([1, 2, 3, 4], [2, 2]);
  const y = tf.clone(x);
  assert.equal(tf.memory().numDataBuffers - before, 1, 'one buffer for both');
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4]);
  const z = tf.add(y, 1);
  assert.deepEqual(Array.from(z.dataSync()), [2, 3, 4, 5]);
  tf.dispose([y, z]);
  assert.equal(tf.memory().numDataBuffers, before, 'freed');
  const s = tf.clone(tf.tensor(['a', 'b']));
  assert.deepEqual(s.dataSync(), ['a', 'b']);
  s.dispose();
});
