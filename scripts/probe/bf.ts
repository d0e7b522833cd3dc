import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
await initBackend('wasm');
function bench(name: string, f: () => tf.Tensor) { f().dispose(); const c0 = process.cpuUsage(); for (let i = 0; i < 5; i++) f().dispose(); const c = process.cpuUsage(c0); console.log(name, ((c.user + c.system) / 5000).toFixed(1), "ms cpu"); }
const x1 = tf.randomNormal([128, 28, 28, 1]); const dy1 = tf.randomNormal([128, 26, 26, 32]);
const x2 = tf.randomNormal([128, 13, 13, 32]); const dy2 = tf.randomNormal([128, 11, 11, 64]);
const w2 = tf.randomNormal([3, 3, 32, 64]); const w1 = tf.randomNormal([3, 3, 1, 32]);
bench('bf1', () => tf.engine().runKernel('Conv2DBackpropFilter', {x: x1, dy: dy1}, {strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, 1, 32]} as any) as tf.Tensor);
bench('bf2', () => tf.engine().runKernel('Conv2DBackpropFilter', {x: x2, dy: dy2}, {strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, 32, 64]} as any) as tf.Tensor);
bench('bi2', () => tf.engine().runKernel('Conv2DBackpropInput', {dy: dy2, filter: w2}, {strides: 1, pad: 'valid', dataFormat: 'NHWC', inputShape: [128, 13, 13, 32]} as any) as tf.Tensor);
bench('fwd1', () => tf.conv2d(x1 as tf.Tensor4D, w1 as tf.Tensor4D, 1, 'valid'));
bench('fwd2', () => tf.conv2d(x2 as tf.Tensor4D, w2 as tf.Tensor4D, 1, 'valid'));
bench('T x2', () => tf.transpose(x2, [3, 1, 2, 0]));
bench('T dy2', () => tf.transpose(dy2, [1, 2, 0, 3]));
bench('T dy1', () => tf.transpose(dy1, [1, 2, 0, 3]));
