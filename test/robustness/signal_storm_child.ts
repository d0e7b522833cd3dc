/**
 * The child process of native_signals.test.ts (does nothing unless DNNKIT_SIGNAL_STORM_CHILD=1):
 * runs the fused LSTM kernel (dnnl_sgemm) and a oneDNN matmul many times while counting the
 * SIGWINCHs the parent sends, checks each result is bit-identical to the first, and prints
 * {"signals", "mismatches", "calls"} as JSON.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { LSTM_SEQ, nativeStats } from '../../src/core/native/index.js';

if (process.env.DNNKIT_SIGNAL_STORM_CHILD === '1') {
  await initBackend('wasm');
  let signals = 0;
  process.on('SIGWINCH', () => signals++);
  const [T, B, I, U] = [40, 32, 128, 128]; // an SST-2 batch
  const x = tf.randomNormal([T, B, I], 0, 1, 'float32', 1);
  const wx = tf.randomNormal([I, 4 * U], 0, 0.1, 'float32', 2);
  const wh = tf.randomNormal([U, 4 * U], 0, 0.1, 'float32', 3);
  const bias = tf.zeros([4 * U]);
  const a = tf.randomNormal([B, 256], 0, 1, 'float32', 4);
  const w = tf.randomNormal([256, 512], 0, 1, 'float32', 5);
  const run = (): Float32Array[] => tf.tidy(() => {
    const [h] = tf.engine().runKernel(LSTM_SEQ, { x, kernel: wx, recurrentKernel: wh, bias }, { reverse: false }) as tf.Tensor[];
    return [h.dataSync().slice() as Float32Array, tf.matMul(a, w).dataSync().slice() as Float32Array];
  });
  const first = run();
  process.stdout.write('ready\n');
  let mismatches = 0;
  const iterations = Number(process.env.DNNKIT_SIGNAL_STORM_ITERATIONS ?? 300);
  for (let i = 0; i < iterations; i++) {
    const now = run();
    if (now.some((v, k) => v.some((e, j) => e !== first[k][j]))) mismatches++;
    if (i % 5 === 0) await new Promise((resolve) => setImmediate(resolve)); // let the handler count
  }
  process.stdout.write(JSON.stringify({ signals, mismatches, calls: nativeStats[LSTM_SEQ]?.native ?? 0 }) + '\n');
}
