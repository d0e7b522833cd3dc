// Training throughput of the MNIST CNN per CPU-second (robust to other load on the machine).
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { buildMnistCnn } from '../../src/mnist/model.js';
await initBackend((process.argv[2] as 'wasm' | undefined) ?? 'wasm');
const m = buildMnistCnn();
const n = 128;
const x = tf.randomUniform([n, 28, 28, 1]); const y = tf.oneHot(tf.randomUniform([n], 0, 10, 'int32'), 10);
for (let i = 0; i < 3; i++) await m.trainOnBatch(x, y);
const steps = 15;
const c0 = process.cpuUsage(); const t0 = performance.now();
for (let i = 0; i < steps; i++) await m.trainOnBatch(x, y);
const c = process.cpuUsage(c0); const wall = (performance.now() - t0) / 1000;
console.log(`samples per cpu-second ${(steps * n / ((c.user + c.system) / 1e6)).toFixed(0)}, per wall-second ${(steps * n / wall).toFixed(0)}`);
const prof = await tf.profile(async () => { await m.trainOnBatch(x, y); });
const agg = new Map<string, number>();
for (const k of prof.kernels) agg.set(k.name, (agg.get(k.name) ?? 0) + (k.kernelTimeMs as number));
console.log([...agg.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', '));
