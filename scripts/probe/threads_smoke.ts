/** Smoke test: enable wasm threads from DNNKIT_WASM_THREADS (default 2), init wasm, run a conv. */
import * as tf from '@tensorflow/tfjs';
import { enableWasmThreads, threadsFromEnv } from '../../src/core/wasm_threads.js';
const t0 = performance.now();
const r = await enableWasmThreads(threadsFromEnv() ?? 2);
console.error('enable', r, (performance.now() - t0).toFixed(0), 'ms');
const wasm = await import('@tensorflow/tfjs-backend-wasm');
const ok = await tf.setBackend('wasm');
await tf.ready();
console.error('setBackend', ok, tf.getBackend(), 'threads', wasm.getThreadsCount(), (performance.now() - t0).toFixed(0), 'ms', 'rss MB', (process.memoryUsage().rss / 2 ** 20).toFixed(0));
const x = tf.randomNormal([8, 56, 56, 64], 0, 1, "float32", 1) as tf.Tensor4D;
const w = tf.randomNormal([3, 3, 64, 64], 0, 0.1, "float32", 2) as tf.Tensor4D;
const y = tf.conv2d(x, w, 1, 'same');
console.error('sum', y.sum().dataSync()[0]);
const t1 = performance.now();
for (let i = 0; i < 10; i++) { const z = tf.conv2d(x, w, 1, 'same'); z.dataSync(); z.dispose(); }
console.error('10 convs', (performance.now() - t1).toFixed(0), 'ms');
