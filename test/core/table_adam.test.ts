/**
 * The Adam of the SST-2 tables (core/table_adam.ts), given gradients as rows: it moves the table
 * exactly as tf.train.adam moves it given the same gradient as a dense tensor (zero in the rows a
 * step does not list: those rows still move with their momentum), rows that never had a gradient
 * stay put, a clone taken before a step does not change, and its state survives a save and restore.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { TableAdam } from '../../src/core/table_adam.js';
import { createRng } from '../../src/core/rng.js';

const ROWS = 6;
const DIM = 5;
const table = (seed: number) => {
  const rng = createRng(seed);
  return Float32Array.from({ length: ROWS * DIM }, () => rng.next() * 2 - 1);
};
/** The gradient rows of a step: `rows` in that order, values from `seed`. */
const rowGrad = (rows: number[], seed: number) => {
  const rng = createRng(seed);
  return { rows: Int32Array.from(rows), grad: Float32Array.from({ length: rows.length * DIM }, () => rng.normal()) };
};
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
};

for (const backend of ['wasm', 'cpu'] as const) {
  test(`table Adam: row gradients move the table as tf.train.adam moves it; never-used rows and a clone stay (${backend})`, async () => {
    await initBackend(backend);
    const lr = 0.01;
    const rowVar = tf.variable(tf.tensor2d(table(1), [ROWS, DIM]), true, `rows_${backend}`);
    const denseVar = tf.variable(tf.tensor2d(table(1), [ROWS, DIM]), true, `dense_${backend}`);
    const dense = tf.train.adam(lr);
    const adam = new TableAdam([rowVar], lr);
    // Rows 4, 1, 2 (out of order), then 2 and 4 (row 1 coasts on its momentum), a step without
    // any row, then 1 and 5 (first gradient at t = 4). Rows 0 and 3 never get one.
    const steps = [rowGrad([4, 1, 2], 11), rowGrad([2, 4], 12), rowGrad([], 13), rowGrad([1, 5], 14)];
    const before = rowVar.clone();
    const start = table(1);
    for (const [s, { rows, grad }] of steps.entries()) {
      const scale = s === 1 ? 0.5 : 1;
      adam.step([{ variable: rowVar, rows, grad, scale }]);
      const full = new Float32Array(ROWS * DIM);
      rows.forEach((r, i) => full.set(grad.subarray(i * DIM, (i + 1) * DIM).map((g) => g * scale), r * DIM));
      const g = tf.tensor2d(full, [ROWS, DIM]);
      dense.applyGradients({ [denseVar.name]: g } as never);
      g.dispose();
      close(rowVar.dataSync(), denseVar.dataSync(), 1e-6, `step ${s + 1}`);
      if (s === 2) assert.notDeepEqual(rowVar.dataSync(), before.dataSync(), 'a step without gradient rows still moves the rows with momentum');
    }
    const after = rowVar.dataSync();
    for (const r of [0, 3]) assert.deepEqual(after.slice(r * DIM, (r + 1) * DIM), start.slice(r * DIM, (r + 1) * DIM), `row ${r} never had a gradient`);
    assert.deepEqual(before.dataSync(), start, 'a clone taken before the steps keeps its values');
    // Row 5 by hand (first gradient at t = 4): m = 0.1 g, v = 0.001 g^2, bias-corrected by 1 - beta^4.
    const g5 = steps[3].grad.subarray(DIM, 2 * DIM);
    const expected = Array.from(g5, (g, e) => start[5 * DIM + e] - lr * (0.1 * g / (1 - 0.9 ** 4)) / (Math.sqrt(0.001 * g * g / (1 - 0.999 ** 4)) + tf.backend().epsilon()));
    close(after.slice(5 * DIM, 6 * DIM), expected, 1e-6, 'row 5 at step 4');

    // Save and restore: a fresh optimizer with the saved state takes the same next steps.
    const moments = adam.getMoments();
    const twin = tf.variable(rowVar.clone(), true, `twin_${backend}`);
    const restored = new TableAdam([twin], lr);
    restored.setState(moments, adam.getPowers());
    for (const next of [rowGrad([0, 5], 15), rowGrad([], 16)]) {
      adam.step([{ variable: rowVar, ...next }]);
      restored.step([{ variable: twin, ...next }]);
    }
    assert.deepEqual(twin.dataSync(), rowVar.dataSync());
    assert.throws(() => adam.step([{ variable: denseVar, rows: Int32Array.from([0]), grad: new Float32Array(DIM) }]), /not one of its tables/);
    assert.throws(() => adam.step([{ variable: rowVar, rows: Int32Array.from([0]), grad: new Float32Array(DIM - 1) }]), /gradient values/);
    tf.dispose([rowVar, denseVar, before, twin, ...moments]);
    dense.dispose();
  });
}
