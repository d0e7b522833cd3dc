/**
 * Probe (not part of npm run bench): ResNet-18 forward passes at batch 1 and 16 with the wasm
 * thread pool and oneDNN's OpenMP threads set separately, to see which pool makes 2 threads
 * slower for batch-1 work (Grad-CAM). Usage: node dist/scripts/probe_threads.js WASM OMP
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, requestThreads } from '../src/core/backend.js';
import { loadAddon } from '../src/core/native/addon.js';
import { buildResnet18 } from '../src/models/resnet18.js';

const [wasm, omp] = process.argv.slice(2).map(Number);
requestThreads(wasm);
await initBackend('wasm');
loadAddon().addon?.setThreads(omp);
const model = buildResnet18();
for (const batch of [1, 16]) {
  const x = tf.randomUniform([batch, 224, 224, 3]);
  const run = () => tf.tidy(() => { (model.predict(x) as tf.Tensor).dataSync(); });
  for (let i = 0; i < 2; i++) run();
  const reps = batch === 1 ? 30 : 4;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) run();
  const ms = (performance.now() - t0) / reps;
  console.log(`wasm ${wasm} omp ${omp} batch ${batch}: ${ms.toFixed(1)} ms/pass, ${(1000 * batch / ms).toFixed(1)} img/s`);
  x.dispose();
}
