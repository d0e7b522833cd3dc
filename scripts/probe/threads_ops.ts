/**
 * Runs the ops of an MNIST CNN training step (forward, every gradient, one Adam update) on seeded
 * inputs with N wasm threads and writes each result to <out>/<name>.f32, so that two runs
 * (1 and 2 threads) can be compared op by op:
 *   node dist/scripts/probe/threads_ops.js <threads> <outDir>
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { enableWasmThreads } from '../../src/core/wasm_threads.js';
import { initBackend } from '../../src/core/backend.js';
import { createRng } from '../../src/core/rng.js';

const threads = Number(process.argv[2] ?? '1');
const outDir = process.argv[3] ?? 'outputs/thr/ops';
fs.mkdirSync(outDir, { recursive: true });
await enableWasmThreads(threads);
const info = await initBackend('wasm');
const rng = createRng(99);
const randn = (shape: number[], s = 1) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * s), shape);
const save = (name: string, t: tf.Tensor) => {
  const v = t.dataSync() as Float32Array;
  fs.writeFileSync(path.join(outDir, `${name}.f32`), Buffer.from(v.buffer, v.byteOffset, v.byteLength));
};

const x = randn([128, 28, 28, 1]);
const w1 = randn([3, 3, 1, 32], 0.3); const b1 = randn([32], 0.1);
const w2 = randn([3, 3, 32, 64], 0.06); const b2 = randn([64], 0.1);
const w3 = randn([1600, 128], 0.03); const b3 = randn([128], 0.1);
const w4 = randn([128, 10], 0.1); const b4 = randn([10], 0.1);
const labels = tf.oneHot(tf.tensor1d(Array.from({ length: 128 }, () => rng.int(10)), 'int32'), 10);
const forward = (ws: tf.Tensor[]) => {
  const [a1, c1, a2, c2, a3, c3, a4, c4] = ws;
  let h = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, a1 as tf.Tensor4D, 1, 'valid'), c1));
  h = tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid');
  h = tf.relu(tf.add(tf.conv2d(h as tf.Tensor4D, a2 as tf.Tensor4D, 1, 'valid'), c2));
  h = tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid');
  h = tf.reshape(h, [128, 1600]);
  h = tf.relu(tf.add(tf.matMul(h as tf.Tensor2D, a3 as tf.Tensor2D), c3));
  return tf.add(tf.matMul(h as tf.Tensor2D, a4 as tf.Tensor2D), c4);
};
const params = [w1, b1, w2, b2, w3, b3, w4, b4];
const names = ['conv1_w', 'conv1_b', 'conv2_w', 'conv2_b', 'dense1_w', 'dense1_b', 'logits_w', 'logits_b'];
const logits = forward(params);
save('logits', logits);
const { value, grads } = tf.valueAndGrads((...ws: tf.Tensor[]) => tf.losses.softmaxCrossEntropy(labels, forward(ws)) as tf.Scalar)(params);
save('loss', value);
grads.forEach((g, i) => save(`grad_${names[i]}`, g));
// One Adam step on variables.
const vars = params.map((p, i) => tf.variable(p, true, names[i]));
const opt = tf.train.adam(1e-3);
for (let s = 0; s < 3; s++) opt.minimize(() => tf.losses.softmaxCrossEntropy(labels, forward(vars)) as tf.Scalar);
vars.forEach((v, i) => save(`adam3_${names[i]}`, v));
console.log(JSON.stringify({ threads: info.threads, outDir }));
