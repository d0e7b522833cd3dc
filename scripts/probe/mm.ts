import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
await initBackend('wasm');
const a = tf.randomNormal([128, 1600]); const b = tf.randomNormal([1600, 128]); const dy = tf.randomNormal([128, 128]);
const cases: [string, () => tf.Tensor][] = [
  ['fwd a.b', () => tf.matMul(a, b)],
  ['dW a^T.dy', () => tf.matMul(a, dy, true, false)],
  ['dx dy.b^T', () => tf.matMul(dy, b, false, true)],
  ['sum axis0 [128*26*26,32]', () => tf.sum(tf.zeros([128*26*26, 32]), 0)],
];
for (const [n, f] of cases) { f().dispose(); const t0 = performance.now(); for (let i = 0; i < 10; i++) f().dataSync(); console.log(n, ((performance.now() - t0) / 10).toFixed(2), 'ms'); }
const x4 = tf.randomNormal([128, 26, 26, 32]);
let t0 = performance.now(); for (let i = 0; i < 10; i++) tf.sum(x4, [0, 1, 2]).dataSync(); console.log('bias sum', ((performance.now() - t0) / 10).toFixed(2));
