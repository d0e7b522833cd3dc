/**
 * The MNIST training step's parts on one thread, alone (the evidence in docs/CORES.md, "the
 * fused Adam step, and what is left"): model.trainOnBatch of 128 rows (the 1-worker step),
 * shardGradients + applyGradients of the same rows, and shardGradients of shard 0 of a 2-worker
 * step (72 rows). Mean milliseconds over --reps repetitions after 3 warm-up ones. With
 * --kernels, then the kernels of one trainOnBatch (tf.profile, mean over --reps steps): where a
 * step's time goes, the largest first.
 *
 *   node dist/scripts/profile_mnist_step.js [--reps 20] [--kernels]
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/core/backend.js';
import { loadMnist, makeBatch } from '../src/mnist/data.js';
import { buildMnistCnn } from '../src/mnist/model.js';
import { shardStart } from '../src/mnist/parallel.js';
import { shardGradients } from '../src/mnist/replica.js';

const args = process.argv.slice(2);
const reps = args.includes('--reps') ? Number(args[args.indexOf('--reps') + 1]) : 20;
const kernels = args.includes('--kernels');
await initBackend('wasm');
const data = await loadMnist();
const model = buildMnistCnn();
const rows = (n: number, i: number) => Array.from({ length: n }, (_, k) => (i * 128 + k) % data.train.count);

async function time(label: string, step: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < 3; i++) await step(i);
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await step(3 + i);
  console.log(`${label.padEnd(44)} ${((performance.now() - t0) / reps).toFixed(1)} ms`);
}

const shard0 = shardStart(1, 128, 2);
await time('trainOnBatch, 128 rows', async (i) => {
  const { x, y } = makeBatch(data.train, rows(128, i));
  await model.trainOnBatch(x, y);
  tf.dispose([x, y]);
});
await time('shardGradients + applyGradients, 128 rows', async (i) => {
  const { x, y } = makeBatch(data.train, rows(128, i));
  const r = shardGradients(model, x, y, 128);
  model.optimizer.applyGradients(r.grads);
  tf.dispose([...Object.values(r.grads), x, y]);
});
await time(`shardGradients, ${shard0} rows (shard 0 of 2)`, async (i) => {
  const { x, y } = makeBatch(data.train, rows(shard0, i));
  const r = shardGradients(model, x, y, 128);
  tf.dispose([...Object.values(r.grads), x, y]);
});

if (kernels) {
  // Kernel by kernel (tf.profile times each kernel's call; the wasm backend computes synchronously).
  const byKernel = new Map<string, { ms: number; calls: number }>();
  let profiled = 0;
  for (let i = 0; i < reps; i++) {
    const { x, y } = makeBatch(data.train, rows(128, 100 + i));
    const t0 = performance.now();
    const info = await tf.profile(async () => { await model.trainOnBatch(x, y); });
    profiled += performance.now() - t0;
    for (const k of info.kernels) {
      const key = `${k.name} ${JSON.stringify(k.inputShapes[0] ?? [])}`;
      const e = byKernel.get(key) ?? { ms: 0, calls: 0 };
      e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      e.calls++;
      byKernel.set(key, e);
    }
    tf.dispose([x, y]);
  }
  const list = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = list.reduce((s, [, e]) => s + e.ms, 0);
  console.log(`\nkernels of trainOnBatch, 128 rows (mean of ${reps}; ${(profiled / reps).toFixed(1)} ms a step under tf.profile, ${(total / reps).toFixed(1)} ms in kernels):`);
  for (const [key, e] of list.slice(0, 16)) console.log(`${(e.ms / reps).toFixed(2).padStart(7)} ms ${(100 * e.ms / total).toFixed(0).padStart(3)}%  x${e.calls / reps}  ${key}`);
}
