/**
 * Determinism under threads: computes the same MNIST-CNN layers-model gradients (batch 128)
 * `reps` times in one process and counts runs whose gradients differ bitwise from the first;
 * with `train`, instead trains `steps` Adam steps (trainOnBatch) from the same initial weights
 * `reps` times and compares the final weights.
 *   node dist/scripts/probe/threads_repeat.js <threads> [reps] [grads|train] [steps]
 */
import * as tf from '@tensorflow/tfjs';
import { enableWasmThreads } from '../../src/core/wasm_threads.js';
import { initBackend } from '../../src/core/backend.js';
import { createRng } from '../../src/core/rng.js';
import { buildMnistCnn } from '../../src/mnist/model.js';

const threads = Number(process.argv[2] ?? '2');
const reps = Number(process.argv[3] ?? '30');
const mode = process.argv[4] ?? 'grads';
const steps = Number(process.argv[5] ?? '16');
await enableWasmThreads(threads);
const info = await initBackend('wasm');
const rng = createRng(5);
const model = buildMnistCnn({ dropout: [0, 0] });
const initial = model.weights.map((w) => {
  const n = (w.shape as number[]).reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 0.2), w.shape as number[]);
});
model.weights.forEach((w, i) => w.write(initial[i]));
const x = tf.tensor(Float32Array.from({ length: 128 * 784 }, () => rng.next()), [128, 28, 28, 1]);
const y = tf.oneHot(tf.tensor1d(Array.from({ length: 128 }, () => rng.int(10)), 'int32'), 10);
const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
const gradsOnce = (): Float32Array[] => {
  const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar, vars);
  const out = vars.map((v) => grads[v.name].dataSync().slice() as Float32Array);
  tf.dispose(Object.values(grads));
  return out;
};
const trainOnce = async (): Promise<Float32Array[]> => {
  model.weights.forEach((w, i) => w.write(initial[i]));
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  for (let s = 0; s < steps; s++) await model.trainOnBatch(x, y);
  return model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
};
const once = async () => (mode === 'train' ? trainOnce() : gradsOnce());
const first = await once();
let differing = 0; let maxDiff = 0;
const t0 = performance.now();
for (let r = 1; r < reps; r++) {
  const g = await once();
  let d = 0;
  g.forEach((a, i) => { for (let k = 0; k < a.length; k++) d = Math.max(d, Math.abs(a[k] - first[i][k])); });
  if (d > 0) differing++;
  maxDiff = Math.max(maxDiff, d);
}
console.log(JSON.stringify({ threads: info.threads, mode, reps, steps: mode === 'train' ? steps : undefined, differing, maxDiff, ms: Math.round(performance.now() - t0), tensors: tf.memory().numTensors }));
