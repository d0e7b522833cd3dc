/**
 * train-mnist --workers 2 (src/mnist/parallel.ts): the maths of a data-parallel step, and runs.
 *
 * - The shards' gradients add up to the whole batch's gradient, and a 2-replica step moves the
 *   weights as trainOnBatch does (dropout off, so both see the same function; they differ only in
 *   float summation order).
 * - A 2-worker run is deterministic: the same seed gives byte-identical weights twice.
 * - Its accuracy after a short run is close to the 1-worker run's, not equal: each replica draws
 *   its own dropout masks, and the gradient is summed in another order.
 * (Ctrl-C and --resume with 2 workers: resume_workers.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { seedGlobalRandom } from '../../src/core/rng.js';
import { loadMnist, makeBatch } from '../../src/mnist/data.js';
import { buildMnistCnn } from '../../src/mnist/model.js';
import { closeReplicas, emptyStepTimes, freshReplicaRandomStates, MAIN_SHARE, parallelTrainStep, shardStart, startReplicas, type StepTimes } from '../../src/mnist/parallel.js';
import { shardGradients, trainableVariables, weightsFlat } from '../../src/mnist/replica.js';
import { runTrainMnist } from '../../src/mnist/train.js';
import { tempDir } from '../helpers.js';

const backend = await initBackend('wasm');
const data = await loadMnist();
const NO_DROPOUT = { dropout: [0, 0] as [number, number] };

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test('shards cover the batch, shard 0 (the main thread) the larger by MAIN_SHARE', () => {
  assert.deepEqual([0, 1, 2].map((k) => shardStart(k, 25, 2, 1)), [0, 13, 25]);
  assert.deepEqual([0, 1, 2].map((k) => shardStart(k, 1, 2, 1)), [0, 1, 1]); // the replica gets nothing
  assert.deepEqual([0, 1, 2, 3].map((k) => shardStart(k, 10, 3, 1)), [0, 4, 7, 10]);
  // The default: 128 rows as 72 + 56 (1.25 shares against 1), three ways 50 + 39 + 39.
  assert.equal(MAIN_SHARE, 1.25);
  assert.deepEqual([0, 1, 2].map((k) => shardStart(k, 128, 2)), [0, 72, 128]);
  assert.deepEqual([0, 1, 2, 3].map((k) => shardStart(k, 128, 3)), [0, 50, 89, 128]);
});

test('the shards\' gradients add up to the whole batch\'s (dropout off)', () => {
  const { restore } = seedGlobalRandom(3);
  const model = buildMnistCnn(NO_DROPOUT);
  restore();
  const idx = Array.from({ length: 10 }, (_, i) => i);
  const whole = makeBatch(data.train, idx);
  const a = makeBatch(data.train, idx.slice(0, 6));
  const b = makeBatch(data.train, idx.slice(6));
  const before = tf.memory().numTensors;
  const g = shardGradients(model, whole.x, whole.y, 10);
  const ga = shardGradients(model, a.x, a.y, 10);
  const gb = shardGradients(model, b.x, b.y, 10);
  assert.ok(Math.abs(g.lossSum - (ga.lossSum + gb.lossSum)) < 1e-4, `${g.lossSum} vs ${ga.lossSum} + ${gb.lossSum}`);
  assert.equal(g.correct, ga.correct + gb.correct);
  const leaked = tf.memory().numTensors - before - 3 * trainableVariables(model).length;
  assert.equal(leaked, 0, 'shardGradients leaves only its gradients');
  for (const v of trainableVariables(model)) {
    const sum = tf.tidy(() => tf.add(ga.grads[v.name], gb.grads[v.name]).dataSync());
    const full = g.grads[v.name].dataSync() as Float32Array;
    const scale = full.reduce((m, x) => Math.max(m, Math.abs(x)), 1e-3);
    const d = maxAbsDiff(sum, full);
    assert.ok(d <= 1e-5 * scale, `${v.name}: max |(ga + gb) - g| = ${d} (largest |g| ${scale})`);
  }
  tf.dispose([g.grads, ga.grads, gb.grads]);
  tf.dispose([whole.x, whole.y, a.x, a.y, b.x, b.y]);
  model.dispose();
});

test('a 2-replica step moves the weights as trainOnBatch does (dropout off)', async () => {
  const { restore } = seedGlobalRandom(5);
  const reference = buildMnistCnn(NO_DROPOUT);
  const parallel = buildMnistCnn(NO_DROPOUT);
  restore();
  parallel.setWeights(reference.getWeights());
  const pool = await startReplicas(2, { backend: backend.name, threads: backend.threads, model: NO_DROPOUT }, freshReplicaRandomStates(5, 2));
  const replicaTensors = async () => {
    const r = await pool.threads[0].call({ kind: 'tensors' });
    return r.kind === 'tensors' ? r.count : NaN;
  };
  const live: { here: number; replica: number }[] = [];
  const times = emptyStepTimes();
  try {
    for (let step = 0; step < 3; step++) {
      const idx = Array.from({ length: 25 }, (_, i) => 25 * step + i);
      const { x, y } = makeBatch(data.train, idx);
      const [loss, acc] = (await reference.trainOnBatch(x, y)) as number[];
      tf.dispose([x, y]);
      const before = { ...times };
      const p = await parallelTrainStep(pool, parallel, data.train, idx, undefined, times);
      // Where the step's time went, on one clock for both threads: the request's way and the
      // replica's work lie inside the main thread's own shard plus its wait for the reply.
      const d1 = (k: keyof StepTimes) => times[k] - before[k];
      for (const k of Object.keys(times) as (keyof StepTimes)[]) assert.ok(d1(k) >= 0 && Number.isFinite(d1(k)), `step ${step}: ${k} ${d1(k)}`);
      assert.ok(d1('replica') > 0 && d1('own') > 0, `step ${step}: ${JSON.stringify(times)}`);
      assert.ok(d1('toReplica') + d1('replica') + d1('late') <= d1('own') + d1('wait') + 0.05, `step ${step}: the replica's part does not fit the main thread's: ${JSON.stringify(times)}`);
      assert.ok(Math.abs(p.loss - loss) < 1e-5, `step ${step}: loss ${p.loss} vs trainOnBatch's ${loss}`);
      assert.ok(Math.abs(p.acc - acc) < 1e-6, `step ${step}: accuracy ${p.acc} vs ${acc}`);
      // Adam's first steps are about lr * sign(g): a tiny gradient summed in another order can
      // move a weight by up to lr, so the bound is a fraction of lr, checked on every weight.
      const d = maxAbsDiff(weightsFlat(parallel), weightsFlat(reference));
      assert.ok(d < 2e-4, `step ${step}: weights differ by up to ${d} (lr 1e-3)`);
      live.push({ here: tf.memory().numTensors, replica: await replicaTensors() });
    }
    // After the first step (Adam makes its moments then), neither thread gains tensors per step.
    assert.deepEqual(live[2], live[1], `live tensors after steps 1, 2, 3: ${JSON.stringify(live)}`);
  } finally {
    await closeReplicas(pool);
    reference.dispose();
    parallel.dispose();
  }
});

const RUN = { seed: 2, json: true, debug: false, backend: 'wasm' as const, epochs: 1, batchSize: 32, lr: 1e-3, lrDecay: 0.8, augment: 1, validationSplit: 0.1, limit: 3000 };

test('2 workers: the same seed gives identical weights twice, and accuracy close to 1 worker', async (t) => {
  const outs = [tempDir(t), tempDir(t), tempDir(t)];
  const first = await runTrainMnist({ ...RUN, workers: 2, out: outs[0] });
  const second = await runTrainMnist({ ...RUN, workers: 2, out: outs[1] });
  const single = await runTrainMnist({ ...RUN, workers: 1, out: outs[2] });
  t.diagnostic(`test accuracy: 2 workers ${first.testAccuracy}, 1 worker ${single.testAccuracy}`);
  const weights = outs.map((o) => readFileSync(path.join(o, 'weights.bin')));
  assert.ok(weights[0].equals(weights[1]), 'a 2-worker run repeats bit for bit');
  assert.equal(first.testAccuracy, second.testAccuracy);
  assert.ok(!weights[0].equals(weights[2]), '2 workers draw other dropout masks than 1');
  assert.ok(first.testAccuracy > 0.85, `2-worker test accuracy ${first.testAccuracy}`);
  assert.ok(Math.abs(first.testAccuracy - single.testAccuracy) < 0.03,
    `2-worker test accuracy ${first.testAccuracy} vs 1-worker ${single.testAccuracy}`);
  const record = JSON.parse(readFileSync(path.join(outs[0], 'run.json'), 'utf8'));
  assert.equal(record.settings.workers, 2);
  assert.equal(record.backend.workers, 2);
  assert.equal(JSON.parse(readFileSync(path.join(outs[2], 'run.json'), 'utf8')).backend.workers, 1);
});
