/**
 * The fused Adam step (installFusedAdam in src/core/optim.ts, kernel DnnkitAdamStep) against
 * tfjs's own tf.train.adam on the same backend: after several steps with changing gradients and
 * a changed learning rate, the weights, both moments and the beta powers are the same bits; and
 * model.trainOnBatch (the MNIST training step) goes through it. Without the addon it skips,
 * unless DNNKIT_REQUIRE_NATIVE=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { ADAM_STEP, nativeStats } from '../../src/core/native/index.js';
import { adamState, installFusedAdam } from '../../src/core/optim.js';
import { createRng } from '../../src/core/rng.js';

const info = await initBackend('wasm');
const required = process.env.DNNKIT_REQUIRE_NATIVE === '1';
const skip = info.nativeKernels.length > 0 || required ? false : 'native kernels not in use';

const SHAPES = [[3, 3, 1, 32], [32], [1600, 128], [7]];

/** Runs `steps` Adam steps on fresh variables; returns weights, moments and beta powers as bit arrays. */
async function train(fusedStep: boolean, steps: number): Promise<{ bits: Uint32Array[]; powers: number[]; fused: boolean }> {
  const rng = createRng(7);
  const vars = SHAPES.map((s, k) => tf.variable(tf.tensor(Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal()), s), true, `w${k}_${fusedStep}`));
  const opt = tf.train.adam(0.003);
  const fused = fusedStep ? installFusedAdam(opt) : false;
  for (let t = 0; t < steps; t++) {
    if (t === 3) adamState(opt).setLearningRate(0.001);
    const grads: tf.NamedTensorMap = {};
    vars.forEach((v) => {
      const g = Float32Array.from({ length: v.size }, () => rng.normal() * (t % 2 ? 1e-3 : 10));
      if (t === 2) g[0] = 0;
      grads[v.name] = tf.tensor(g, v.shape);
    });
    // A step without one variable's gradient (null: tfjs skips it and still counts the step).
    const given = grads[vars[1].name];
    if (t === 4) grads[vars[1].name] = null as unknown as tf.Tensor;
    opt.applyGradients(grads as Parameters<typeof opt.applyGradients>[0]);
    tf.dispose([...Object.values(grads).filter((g) => g !== null), given]);
  }
  const moments = (await opt.getWeights()).slice(1).map((w) => w.tensor);
  const bits = [...vars, ...moments].map((t) => new Uint32Array((t.dataSync() as Float32Array).slice().buffer));
  const powers = adamState(opt).getBetaPowers();
  tf.dispose(vars);
  opt.dispose();
  return { bits, powers, fused };
}

test('fused Adam steps are tf.train.adam\'s bit for bit (weights, moments, beta powers)', { skip }, async () => {
  const before = nativeStats[ADAM_STEP]?.native ?? 0;
  const got = await train(true, 6);
  assert.ok(got.fused, 'the fused step is in use');
  // 6 steps of 4 variables, one skipped once.
  assert.equal((nativeStats[ADAM_STEP]?.native ?? 0) - before, 23);
  const want = await train(false, 6);
  assert.deepEqual(got.powers, want.powers);
  assert.equal(got.bits.length, want.bits.length);
  got.bits.forEach((b, k) => {
    let bad = 0;
    for (let i = 0; i < b.length; i++) if (b[i] !== want.bits[k][i]) bad++;
    assert.equal(bad, 0, `tensor ${k}: ${bad} of ${b.length} values differ`);
  });
});

test('model.trainOnBatch uses the fused step and trains as tfjs\'s Adam does', { skip }, async () => {
  const make = (fusedStep: boolean) => {
    const rng = createRng(3);
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [20], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })] });
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    if (fusedStep) assert.ok(installFusedAdam(model.optimizer));
    const x = tf.tensor2d(Float32Array.from({ length: 64 * 20 }, () => rng.normal()), [64, 20]);
    const y = tf.oneHot(tf.tensor1d(Int32Array.from({ length: 64 }, () => rng.int(3)), 'int32'), 3);
    return { model, x, y };
  };
  const run = async (fusedStep: boolean) => {
    const { model, x, y } = make(fusedStep);
    const losses: number[] = [];
    for (let s = 0; s < 5; s++) losses.push((await model.trainOnBatch(x, y)) as number);
    const w = model.getWeights().map((t) => Array.from(t.dataSync()));
    tf.dispose([x, y]);
    model.dispose();
    return { losses, w };
  };
  const before = nativeStats[ADAM_STEP]?.native ?? 0;
  const got = await run(true);
  assert.equal((nativeStats[ADAM_STEP]?.native ?? 0) - before, 5 * 4);
  const want = await run(false);
  assert.ok(want.losses[4] < want.losses[0], 'the reference trains');
  assert.deepEqual(got.losses, want.losses);
  assert.deepEqual(got.w, want.w);
});
