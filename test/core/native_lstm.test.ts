/**
 * The native fused LSTM layer (DnnkitLstmSeq / DnnkitLstmSeqGrad, native/src/lstm.cc) against
 * (a) lstmLayer's JS path on the cpu backend and (b) a composite tf-op LSTM (tf.sigmoid, tf.tanh,
 * matMul per step) on the cpu backend: hidden states and the gradients for x, kernel,
 * recurrentKernel and bias of a random linear loss sum(h * w), on seeded random inputs, several
 * shapes (batch 1, time 1, units not a multiple of 8, reverse true/false).
 * Tolerance: max |native - reference| <= 1e-4 * max(1, max |reference|) (absolute below
 * magnitude 1, relative for the larger sums of the weight gradients).
 *
 * Each case asserts the native kernels ran (nativeStats) and that no tensors leak; a repeat run
 * must be bit-identical (the SST-2 resume tests need determinism). Without the addon the tests
 * skip, unless DNNKIT_REQUIRE_NATIVE=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { fallbacks, LSTM_SEQ, LSTM_SEQ_GRAD, nativeStats, nativeStatus } from '../../src/core/native/index.js';
import { createRng } from '../../src/core/rng.js';
import { referenceLstm as compositeLstm } from '../sst2/reference_lstm.js';
import { lstmLayer, useNativeLstm } from '../../src/sst2/lstm_cell.js';

const TOL = 1e-4;
const rng = createRng(23);
const randn = (shape: number[], scale = 1) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale);

await initBackend('wasm');
const status = nativeStatus();
const required = process.env.DNNKIT_REQUIRE_NATIVE === '1';
const available = tf.getKernel(LSTM_SEQ, 'wasm') !== undefined && tf.getKernel(LSTM_SEQ_GRAD, 'wasm') !== undefined;
const skip = available || required ? false : `native fused LSTM not in use: ${status?.problem ?? 'unknown'}`;

type Case = { time: number; batch: number; inDim: number; units: number; reverse: boolean };
type Data = Record<'x' | 'wx' | 'wh' | 'b' | 'w', { shape: number[]; values: Float32Array }>;

function makeData({ time, batch, inDim, units }: Case): Data {
  return {
    x: { shape: [time, batch, inDim], values: randn([time, batch, inDim]) },
    wx: { shape: [inDim, 4 * units], values: randn([inDim, 4 * units], 1 / Math.sqrt(inDim)) },
    wh: { shape: [units, 4 * units], values: randn([units, 4 * units], 1 / Math.sqrt(units)) },
    b: { shape: [4 * units], values: randn([4 * units], 0.5) },
    w: { shape: [time, batch, units], values: randn([time, batch, units]) },
  };
}

type Layer = typeof lstmLayer;
/** h and the gradients [x, kernel, recurrentKernel, bias] of sum(h * w) on the current backend. */
function run(layer: Layer, d: Data, reverse: boolean): { h: Float32Array; grads: Float32Array[]; shapes: number[][] } {
  return tf.tidy(() => {
    const t = Object.fromEntries(Object.entries(d).map(([k, v]) => [k, tf.tensor(v.values, v.shape, 'float32')])) as Record<keyof Data, tf.Tensor>;
    const h = layer(t.x as tf.Tensor3D, t.wx as tf.Tensor2D, t.wh as tf.Tensor2D, t.b as tf.Tensor1D, reverse);
    const grads = tf.grads((x, wx, wh, b) => tf.sum(tf.mul(layer(x as tf.Tensor3D, wx as tf.Tensor2D, wh as tf.Tensor2D, b as tf.Tensor1D, reverse), t.w)))(
      [t.x, t.wx, t.wh, t.b]);
    return { h: h.dataSync() as Float32Array, grads: grads.map((g) => g.dataSync() as Float32Array), shapes: [h.shape, ...grads.map((g) => g.shape)] };
  });
}

/** mayBeZero: a reference that is legitimately all zero (dW_h with one step) must be matched exactly. */
function assertClose(label: string, got: Float32Array, want: Float32Array, mayBeZero = false): void {
  assert.equal(got.length, want.length, `${label}: length`);
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
  }
  if (mayBeZero && maxAbs === 0) {
    assert.ok(got.every((v) => v === 0), `${label}: expected all zero`);
    return;
  }
  assert.ok(maxAbs > 0, `${label}: the reference is not all zero`);
  assert.ok(maxDiff <= TOL * Math.max(1, maxAbs), `${label}: max |native - reference| = ${maxDiff} (max |reference| ${maxAbs})`);
}

const CASES: Case[] = [
  { time: 7, batch: 3, inDim: 5, units: 4, reverse: false },
  { time: 7, batch: 3, inDim: 5, units: 4, reverse: true },
  { time: 1, batch: 2, inDim: 3, units: 6, reverse: false },
  { time: 1, batch: 2, inDim: 3, units: 6, reverse: true },
  { time: 5, batch: 1, inDim: 9, units: 13, reverse: false },
  { time: 6, batch: 1, inDim: 2, units: 3, reverse: true },
  { time: 12, batch: 8, inDim: 16, units: 33, reverse: true },
  { time: 20, batch: 16, inDim: 24, units: 32, reverse: false },
];
const NAMES = ['x', 'kernel', 'recurrentKernel', 'bias'];

for (const cs of CASES) {
  const label = `time ${cs.time} batch ${cs.batch} in ${cs.inDim} units ${cs.units} reverse ${cs.reverse}`;
  test(`native LSTM layer = JS path = composite ops (cpu): ${label}`, { skip }, async () => {
    const d = makeData(cs);
    await tf.setBackend('cpu');
    assert.equal(tf.tidy(() => useNativeLstm(tf.zeros([1, 1, 1]), tf.zeros([1, 4]), tf.zeros([1, 4]), tf.zeros([4]))), false, 'cpu runs the JS path');
    const js = run(lstmLayer, d, cs.reverse);
    const comp = run(compositeLstm, d, cs.reverse);
    await tf.setBackend('wasm');
    const before = { f: nativeStats[LSTM_SEQ]?.native ?? 0, g: nativeStats[LSTM_SEQ_GRAD]?.native ?? 0 };
    const tensorsBefore = tf.memory().numTensors;
    const nat = run(lstmLayer, d, cs.reverse);
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leaks');
    // Two forward runs (value, and inside tf.grads) and one gradient run.
    assert.equal((nativeStats[LSTM_SEQ]?.native ?? 0) - before.f, 2, 'the native forward ran');
    assert.equal((nativeStats[LSTM_SEQ_GRAD]?.native ?? 0) - before.g, 1, 'the native gradient ran');
    assert.deepEqual(nat.shapes, js.shapes);
    assertClose(`${label} h vs JS`, nat.h, js.h);
    assertClose(`${label} h vs composite`, nat.h, comp.h);
    nat.grads.forEach((g, k) => {
      // With one step there is no previous state: dW_h is zero.
      const zeroOk = k === 2 && cs.time === 1;
      assertClose(`${label} d${NAMES[k]} vs JS`, g, js.grads[k], zeroOk);
      assertClose(`${label} d${NAMES[k]} vs composite`, g, comp.grads[k], zeroOk);
    });
    // Deterministic: the same inputs give bit-identical outputs and gradients.
    const again = run(lstmLayer, d, cs.reverse);
    assert.deepEqual(again.h, nat.h);
    again.grads.forEach((g, k) => assert.deepEqual(g, nat.grads[k], `d${NAMES[k]} repeatable`));
  });
}

test('the native LSTM handles large pre-activations (saturated gates) like the JS path', { skip }, async () => {
  const cs: Case = { time: 4, batch: 2, inDim: 3, units: 5, reverse: false };
  const d = makeData(cs);
  d.x.values = d.x.values.map((v) => v * 60);
  await tf.setBackend('cpu');
  const js = run(lstmLayer, d, false);
  await tf.setBackend('wasm');
  const nat = run(lstmLayer, d, false);
  assert.ok(nat.h.every(Number.isFinite) && nat.grads.every((g) => g.every(Number.isFinite)), 'finite');
  assertClose('saturated h', nat.h, js.h);
  nat.grads.forEach((g, k) => assertClose(`saturated d${NAMES[k]}`, g, js.grads[k]));
});

test('DNNKIT_NATIVE=0: lstmLayer takes the JS path on wasm (a fresh process)', () => {
  const root = new URL('../../src/', import.meta.url);
  const script = `
    const tf = await import('@tensorflow/tfjs');
    const { initBackend } = await import(${JSON.stringify(fileURLToPath(new URL('core/backend.js', root)))});
    const { lstmLayer, useNativeLstm } = await import(${JSON.stringify(fileURLToPath(new URL('sst2/lstm_cell.js', root)))});
    await initBackend('wasm');
    const x = tf.randomNormal([3, 2, 4]), wx = tf.randomNormal([4, 8]), wh = tf.randomNormal([2, 8]), b = tf.zeros([8]);
    const h = lstmLayer(x, wx, wh, b, true);
    console.log(JSON.stringify({ native: useNativeLstm(x, wx, wh, b), registered: tf.getKernel('DnnkitLstmSeq', 'wasm') !== undefined, shape: h.shape }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8', env: { ...process.env, DNNKIT_NATIVE: '0' }, cwd: fileURLToPath(new URL('../../..', import.meta.url)),
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.deepEqual(out, { native: false, registered: false, shape: [3, 2, 2] });
});

// The other kernels registered with the addon for this workload: GatherV2 (embedding lookup) and
// large element-wise ops (Adam). IEEE float32 on both sides, so the values must be identical.
async function onBoth(f: () => tf.Tensor): Promise<{ cpu: Float32Array; wasm: Float32Array; shape: number[] }> {
  await tf.setBackend('cpu');
  const c = tf.tidy(f);
  const cpu = c.dataSync() as Float32Array;
  c.dispose();
  await tf.setBackend('wasm');
  const w = tf.tidy(f);
  const out = { cpu, wasm: w.dataSync() as Float32Array, shape: w.shape };
  w.dispose();
  return out;
}

test('native GatherV2 (axis 0) equals cpu; out-of-range indices fall back (and throw)', { skip }, async () => {
  const table = randn([300, 7]);
  const ids = Int32Array.from({ length: 5 * 4 }, () => rng.int(300));
  const before = nativeStats.GatherV2?.native ?? 0;
  const r = await onBoth(() => tf.gather(tf.tensor2d(table, [300, 7]), tf.tensor2d(ids, [5, 4], 'int32')));
  assert.equal((nativeStats.GatherV2?.native ?? 0) - before, 1, 'ran natively');
  assert.deepEqual(r.shape, [5, 4, 7]);
  assert.deepEqual(r.wasm, r.cpu);
  const fb = nativeStats.GatherV2?.fallback ?? 0;
  assert.throws(() => tf.tidy(() => tf.gather(tf.tensor2d(table, [300, 7]), tf.tensor1d([3, 300], 'int32')).dataSync()), /not in \[0, 299\]/);
  assert.equal((nativeStats.GatherV2?.fallback ?? 0) - fb, 1, 'fell back');
});

test('native element-wise ops on large tensors equal cpu (same shapes and scalar operands)', { skip }, async () => {
  const n = [80, 70]; // 5,600 elements: above ELEMENTWISE_MIN
  const a = randn(n);
  const b = randn(n);
  const ta = () => tf.tensor2d(a, n as [number, number]);
  const tb = () => tf.tensor2d(b, n as [number, number]);
  const cases: [string, () => tf.Tensor][] = [
    ['Add', () => tf.add(ta(), tb())], ['Sub', () => tf.sub(ta(), tb())], ['Multiply', () => tf.mul(ta(), tb())],
    ['RealDiv', () => tf.div(ta(), tb())], ['Multiply', () => tf.mul(ta(), 0.9)], ['RealDiv', () => tf.div(0.3, ta())],
    ['Add', () => tf.add(tf.scalar(1e-7), ta())], ['Sub', () => tf.sub(ta(), tf.tensor2d([[2]]))],
    ['Sqrt', () => tf.sqrt(tf.abs(ta()))], ['Square', () => tf.square(ta())],
  ];
  for (const [name, f] of cases) {
    const before = nativeStats[name]?.native ?? 0;
    const r = await onBoth(f);
    assert.equal((nativeStats[name]?.native ?? 0) - before, 1, `${name} ran natively`);
    assert.deepEqual(r.shape, n);
    assert.deepEqual(r.wasm, r.cpu, name);
  }
  // A row repeated over the last axis (a bias) runs natively too; other broadcasts (a column) stay on wasm.
  const bias = randn([70]);
  const nb = nativeStats.Add?.native ?? 0;
  const rowAdd = await onBoth(() => tf.add(ta(), tf.tensor1d(bias)));
  assert.equal((nativeStats.Add?.native ?? 0) - nb, 1, 'row broadcast ran natively');
  assert.deepEqual(rowAdd.wasm, rowAdd.cpu, 'row broadcast');
  const fb = nativeStats.Add?.fallback ?? 0;
  const colAdd = await onBoth(() => tf.add(ta(), tf.ones([80, 1])));
  assert.equal((nativeStats.Add?.fallback ?? 0) - fb, 1, 'column broadcast fell back');
  assert.deepEqual(colAdd.wasm, colAdd.cpu, 'column broadcast');
});

test('native UnsortedSegmentSum equals cpu (repeated and out-of-range ids); identity Transpose shares data', { skip }, async () => {
  const x = randn([40, 3, 5]);
  const ids = Int32Array.from({ length: 40 }, (_, i) => (i % 7 === 0 ? -1 : i % 9 === 0 ? 12 : rng.int(11)));
  const before = nativeStats.UnsortedSegmentSum?.native ?? 0;
  const r = await onBoth(() => tf.unsortedSegmentSum(tf.tensor3d(x, [40, 3, 5]), tf.tensor1d(ids, 'int32'), 11));
  assert.equal((nativeStats.UnsortedSegmentSum?.native ?? 0) - before, 1, 'ran natively');
  assert.deepEqual(r.shape, [11, 3, 5]);
  // The cpu backend sums in another order: close to it, bit-identical to dnnkit's JS wasm kernel
  // (the fallback), which adds in the same order.
  assertClose('UnsortedSegmentSum vs cpu', r.wasm, r.cpu);
  const xt = tf.tensor3d(x, [40, 3, 5]);
  const it = tf.tensor1d(ids, 'int32');
  const info = fallbacks.get('UnsortedSegmentSum')!({ inputs: { x: xt, segmentIds: it }, backend: tf.backend(), attrs: { numSegments: 11 } } as never) as tf.TensorInfo;
  const js = tf.engine().makeTensorFromTensorInfo(info);
  assert.deepEqual(r.wasm, js.dataSync());
  tf.dispose([xt, it, js]);
  // The embedding gradient end to end: d sum(gather(table, ids) * w) / d table.
  const table = randn([30, 4]);
  const w = randn([6, 5, 4]);
  const gIds = Int32Array.from({ length: 30 }, () => rng.int(30));
  const g = await onBoth(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor2d(gIds, [6, 5], 'int32')), tf.tensor3d(w, [6, 5, 4]))))(tf.tensor2d(table, [30, 4])));
  assertClose('embedding gradient vs cpu', g.wasm, g.cpu);
  const t = tf.tensor2d(table, [30, 4]);
  const before2 = tf.memory().numTensors;
  const tr = tf.transpose(t, [0, 1]);
  assert.deepEqual(tr.dataSync(), t.dataSync());
  const swapped = tf.transpose(t, [1, 0]); // a real transpose: the fallback
  assert.deepEqual(swapped.shape, [4, 30]);
  assert.equal(swapped.dataSync()[1], table[4]);
  tf.dispose([tr, swapped]);
  assert.equal(tf.memory().numTensors, before2);
  assert.deepEqual(t.dataSync(), table, 'disposing the transposed tensor keeps the input');
  t.dispose();
});

test('native Equal (float32, broadcasts) equals cpu; the max-over-time gradient too', { skip }, async () => {
  const x = randn([6, 4, 5]).map((v, i) => (i % 3 === 0 ? 0.5 : v));
  const y = Float32Array.from(randn([4, 5]), (v, i) => (i % 2 === 0 ? 0.5 : v));
  const shapes: [number[], number[]][] = [[[6, 4, 5], [6, 4, 5]], [[6, 4, 5], [1, 4, 5]], [[6, 4, 5], [4, 5]], [[6, 4, 5], [5]], [[6, 4, 5], []], [[1, 4, 5], [6, 1, 1]]];
  for (const [sa, sb] of shapes) {
    const before = nativeStats.Equal?.native ?? 0;
    const fa = () => tf.tensor(x.slice(0, sa.reduce((p, q) => p * q, 1)), sa);
    const fb = () => tf.tensor(sb.length === 0 ? [0.5] : (sb.length === 3 ? x : y).slice(0, sb.reduce((p, q) => p * q, 1)), sb);
    const r = await onBoth(() => tf.cast(tf.equal(fa(), fb()), 'float32'));
    assert.equal((nativeStats.Equal?.native ?? 0) - before, 1, `Equal ${sa} vs ${sb} ran natively`);
    assert.deepEqual(Array.from(r.wasm), Array.from(r.cpu), `Equal ${sa} vs ${sb}`);
    assert.ok(r.cpu.some((v) => v === 1) || sa[0] === 1, 'some equal elements');
  }
  const g = await onBoth(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.max(t, 0), tf.tensor2d(y, [4, 5]))))(tf.tensor3d(x, [6, 4, 5])));
  assert.deepEqual(g.wasm, g.cpu);
});
