/**
 * The native oneDNN kernels (src/core/native/, native/) against the tfjs cpu backend on seeded
 * random inputs: several shapes, strides 1 and 2, 'valid' / 'same' / explicit padding, batch 1
 * and > 1. Tolerance: max |native - cpu| <= 1e-4 * max(1, max |cpu|) (relative for the large sums
 * of wide convolutions, absolute below magnitude 1).
 *
 * Each case also checks that the native path ran (and, for unsupported attributes, that the
 * fallback ran). Without the addon built the tests skip, unless DNNKIT_REQUIRE_NATIVE=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { fallbacks, nativeStats, nativeStatus } from '../../src/core/native/index.js';
import { loadAddon } from '../../src/core/native/addon.js';
import { createRng, seedGlobalRandom } from '../../src/core/rng.js';
import { buildMnistCnn } from '../../src/mnist/model.js';
import { maxPoolGradInputs } from './max_pool_inputs.js';
import { CONV_CASES, type ConvCase } from './conv_cases.js';

const TOL = 1e-4;
const rng = createRng(11);
const randn = (shape: number[]) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());

const info = await initBackend('wasm');
const status = nativeStatus();
const required = process.env.DNNKIT_REQUIRE_NATIVE === '1';
const skip = info.nativeKernels.length > 0 || required ? false : `native oneDNN kernels not in use: ${status?.problem ?? 'unknown'}`;

test('the native kernels are in use (DNNKIT_REQUIRE_NATIVE=1 makes their absence a failure)', { skip }, () => {
  assert.ok(status && status.kernels.length > 0, `native kernels not in use: ${status?.problem}`);
  assert.deepEqual([...info.nativeKernels].sort(),
    ['BatchMatMul', 'Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'FusedBatchNorm', 'FusedConv2D', 'MaxPoolGrad', 'Relu', 'Sum', '_FusedMatMul']);
  assert.match(info.reason, /with 6 oneDNN kernels \(libdnnl \d+\.\d+\.\d+\) and 4 native C\+\+ kernels \(Relu, FusedBatchNorm, MaxPoolGrad, Sum\)/);
  assert.equal(status.threads, 1);
});

type Inputs = Record<string, { shape: number[]; values: Float32Array }>;

async function runOn(backend: string, name: string, inputs: Inputs, attrs: Record<string, unknown>) {
  await tf.setBackend(backend);
  const ts: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) ts[k] = tf.tensor(v.values, v.shape, 'float32');
  const out = tf.engine().runKernel(name, ts as unknown as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
  const result = { values: out.dataSync() as Float32Array, shape: out.shape };
  tf.dispose([out, ...Object.values(ts)]);
  return result;
}

/** Runs kernel `name` on cpu and on wasm; checks the values and which path wasm took. */
async function assertNativeMatchesCpu(name: string, inputs: Inputs, attrs: Record<string, unknown>, expectNative = true) {
  const cpu = await runOn('cpu', name, inputs, attrs);
  const before = { ...(nativeStats[name] ?? { native: 0, fallback: 0 }) };
  const nat = await runOn('wasm', name, inputs, attrs);
  const after = nativeStats[name] ?? { native: 0, fallback: 0 };
  assert.equal(after.native - before.native, expectNative ? 1 : 0, `${name}: native runs`);
  assert.equal(after.fallback - before.fallback, expectNative ? 0 : 1, `${name}: fallback runs`);
  assert.deepEqual(nat.shape, cpu.shape, `${name} shape`);
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < cpu.values.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(cpu.values[i] - nat.values[i]));
    maxAbs = Math.max(maxAbs, Math.abs(cpu.values[i]));
  }
  assert.ok(maxAbs > 0, `${name}: the cpu result is not all zero`);
  assert.ok(maxDiff <= TOL * Math.max(1, maxAbs), `${name} ${JSON.stringify(attrs)}: max |native - cpu| = ${maxDiff} (max |cpu| ${maxAbs})`);
  return nat.values;
}

// The shared shapes, plus wide ones that reach oneDNN's vectorised kernels.
const NATIVE_CONV_CASES: ConvCase[] = [
  ...CONV_CASES,
  [[4, 14, 14, 32], [3, 3, 32, 64], 1, 'valid'], // MNIST conv2 class (wide: vectorised kernels)
  [[2, 16, 16, 64], [3, 3, 64, 64], 2, 'same'],
  [[1, 15, 15, 16], [3, 3, 16, 32], 2, [[0, 0], [1, 1], [1, 1], [0, 0]] as never],
];

for (const [xShape, fShape, stride, pad] of NATIVE_CONV_CASES) {
  const label = `x${JSON.stringify(xShape)} f${JSON.stringify(fShape)} s${stride} pad ${JSON.stringify(pad)}`;
  const convInfo = tf.backend_util.computeConv2DInfo(xShape as never, fShape as never, stride, 1, pad as never);
  const dyShape = convInfo.outShape;
  const F = fShape[3];
  test(`native Conv2D matches cpu: ${label}`, { skip }, async () => {
    await assertNativeMatchesCpu('Conv2D',
      { x: { shape: xShape, values: randn(xShape) }, filter: { shape: fShape, values: randn(fShape) } },
      { strides: stride, pad, dataFormat: 'NHWC', dilations: 1 });
  });
  test(`native FusedConv2D (bias, relu) matches cpu: ${label}`, { skip }, async () => {
    const values = await assertNativeMatchesCpu('FusedConv2D',
      { x: { shape: xShape, values: randn(xShape) }, filter: { shape: fShape, values: randn(fShape) }, bias: { shape: [F], values: randn([F]) } },
      { strides: stride, pad, dataFormat: 'NHWC', dilations: 1, activation: 'relu' });
    assert.ok(values.every((v) => v >= 0), 'relu applied');
  });
  test(`native Conv2DBackpropInput matches cpu: ${label}`, { skip }, async () => {
    await assertNativeMatchesCpu('Conv2DBackpropInput',
      { dy: { shape: dyShape, values: randn(dyShape) }, filter: { shape: fShape, values: randn(fShape) } },
      { strides: stride, pad, dataFormat: 'NHWC', inputShape: xShape });
  });
  test(`native Conv2DBackpropFilter matches cpu: ${label}`, { skip }, async () => {
    await assertNativeMatchesCpu('Conv2DBackpropFilter',
      { x: { shape: xShape, values: randn(xShape) }, dy: { shape: dyShape, values: randn(dyShape) } },
      { strides: stride, pad, dataFormat: 'NHWC', filterShape: fShape });
  });
}

test('native FusedConv2D: bias without activation, and no bias', { skip }, async () => {
  const xShape = [2, 9, 9, 8];
  const fShape = [3, 3, 8, 16];
  await assertNativeMatchesCpu('FusedConv2D',
    { x: { shape: xShape, values: randn(xShape) }, filter: { shape: fShape, values: randn(fShape) }, bias: { shape: [16], values: randn([16]) } },
    { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, activation: 'linear' });
  await assertNativeMatchesCpu('FusedConv2D',
    { x: { shape: xShape, values: randn(xShape) }, filter: { shape: fShape, values: randn(fShape) } },
    { strides: 2, pad: 'valid', dataFormat: 'NHWC', dilations: 1, activation: 'linear' });
});

test('unsupported attributes fall back to the wasm kernels (dilations 2, elu)', { skip }, async () => {
  const xShape = [2, 9, 9, 3];
  const fShape = [3, 3, 3, 4];
  await assertNativeMatchesCpu('Conv2D',
    { x: { shape: xShape, values: randn(xShape) }, filter: { shape: fShape, values: randn(fShape) } },
    { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 2 }, false);
  await assertNativeMatchesCpu('FusedConv2D',
    { x: { shape: xShape, values: randn(xShape) }, filter: { shape: fShape, values: randn(fShape) }, bias: { shape: [4], values: randn([4]) } },
    { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 1, activation: 'elu' }, false);
});

for (const [ta, tb, bA, bB] of [[false, false, 3, 3], [true, false, 3, 3], [false, true, 1, 3], [true, true, 3, 1], [false, false, 1, 1]] as const) {
  test(`native BatchMatMul matches cpu: transposeA ${ta}, transposeB ${tb}, batches ${bA}/${bB}`, { skip }, async () => {
    const aShape = ta ? [bA, 17, 5] : [bA, 5, 17];
    const bShape = tb ? [bB, 9, 17] : [bB, 17, 9];
    await assertNativeMatchesCpu('BatchMatMul',
      { a: { shape: aShape, values: randn(aShape) }, b: { shape: bShape, values: randn(bShape) } },
      { transposeA: ta, transposeB: tb });
  });
}

for (const [ta, tb] of [[false, false], [true, false], [false, true]] as const) {
  test(`native BatchMatMul matches cpu on rank 2 (dense gradients): transposeA ${ta}, transposeB ${tb}`, { skip }, async () => {
    const aShape = ta ? [40, 16] : [16, 40];
    const bShape = tb ? [24, 40] : [40, 24];
    await assertNativeMatchesCpu('BatchMatMul',
      { a: { shape: aShape, values: randn(aShape) }, b: { shape: bShape, values: randn(bShape) } },
      { transposeA: ta, transposeB: tb });
  });
}

// [x shape, pool, stride, pad, zero fraction (ReLU outputs: ties between equal maxima)]
const POOL_CASES: [number[], number, number, 'valid' | 'same', number][] = [
  [[2, 8, 8, 3], 2, 2, 'valid', 0],
  [[1, 9, 9, 3], 2, 2, 'valid', 0],
  [[2, 9, 9, 2], 3, 2, 'same', 0],
  [[1, 7, 7, 4], 3, 1, 'same', 0],
  [[4, 26, 26, 32], 2, 2, 'valid', 0.6],
  [[2, 11, 11, 16], 3, 2, 'valid', 0.6],
];
for (const [xShape, pool, stride, pad, zeros] of POOL_CASES) {
  test(`native MaxPoolGrad matches cpu: x${JSON.stringify(xShape)} pool ${pool} stride ${stride} ${pad}, ${zeros * 100}% zeros`, { skip }, async () => {
    const xVals = randn(xShape).map((v) => (rng.next() < zeros ? 0 : v));
    const inputs = await maxPoolGradInputs(xVals, xShape, pool, stride, pad, randn);
    await assertNativeMatchesCpu('MaxPoolGrad', inputs, { filterSize: pool, strides: stride, pad });
  });
}

for (const [shape, axis, keepDims, native] of [
  [[4, 5, 6, 3], [0, 1, 2], false, true], [[4, 5, 6], [0], true, true], [[7, 3], 0, false, true], [[3, 4, 5], [1, 0], false, true],
  [[4, 5, 6], [1], false, false], [[4, 5], [0, 1], false, false],
] as [number[], number | number[], boolean, boolean][]) {
  test(`native Sum matches cpu: shape ${JSON.stringify(shape)} axis ${JSON.stringify(axis)} keepDims ${keepDims} (${native ? 'native' : 'fallback'})`, { skip }, async () => {
    await assertNativeMatchesCpu('Sum', { x: { shape, values: randn(shape) } }, { axis, keepDims }, native);
  });
}

test('native _FusedMatMul (dense layer: bias, relu) matches cpu', { skip }, async () => {
  for (const [ta, tb] of [[false, false], [true, false], [false, true]]) {
    const aShape = ta ? [1, 1600, 128] : [1, 128, 1600];
    const bShape = tb ? [1, 64, 1600] : [1, 1600, 64];
    for (const activation of ['relu', 'linear']) {
      await assertNativeMatchesCpu('_FusedMatMul',
        { a: { shape: aShape, values: randn(aShape) }, b: { shape: bShape, values: randn(bShape) }, bias: { shape: [64], values: randn([64]) } },
        { transposeA: ta, transposeB: tb, activation });
    }
  }
});

test('native Relu and FusedBatchNorm match cpu', { skip }, async () => {
  await assertNativeMatchesCpu('Relu', { x: { shape: [3, 5, 7, 11], values: randn([3, 5, 7, 11]) } }, {});
  const shape = [2, 6, 5, 16];
  const pos = () => Float32Array.from(randn([16]), (v) => Math.abs(v) + 0.1);
  const base = { x: { shape, values: randn(shape) }, mean: { shape: [16], values: randn([16]) }, variance: { shape: [16], values: pos() } };
  await assertNativeMatchesCpu('FusedBatchNorm', {
    ...base, offset: { shape: [16], values: randn([16]) }, scale: { shape: [16], values: randn([16]) },
  }, { varianceEpsilon: 1e-5 });
  await assertNativeMatchesCpu('FusedBatchNorm', base, { varianceEpsilon: 1e-3 });
});

test('native kernels are deterministic: the same inputs give the same bits', { skip }, async () => {
  await tf.setBackend('wasm');
  const x = tf.tensor4d(randn([8, 13, 13, 32]), [8, 13, 13, 32]);
  const dy = tf.tensor4d(randn([8, 11, 11, 64]), [8, 11, 11, 64]);
  const run = () => tf.tidy(() => Array.from((tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
    { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, 32, 64] }) as tf.Tensor).dataSync()));
  const a = run();
  const b = run();
  assert.ok(a.length === 3 * 3 * 32 * 64);
  assert.deepEqual(a, b);
  tf.dispose([x, dy]);
});

test('MNIST CNN loss gradients: native matches cpu (1e-4), through the native kernels', { skip }, async () => {
  const { restore } = seedGlobalRandom(5);
  const model = buildMnistCnn();
  restore();
  const n = 8;
  const xv = Float32Array.from({ length: n * 28 * 28 }, () => rng.next());
  const yv = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) yv[i * 10 + rng.int(10)] = 1;
  const grads = async (backend: string) => {
    await tf.setBackend(backend);
    const xs = tf.tensor4d(xv, [n, 28, 28, 1]);
    const ys = tf.tensor2d(yv, [n, 10]);
    const { value, grads: g } = tf.variableGrads(() =>
      tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: false }) as tf.Tensor) as tf.Scalar);
    const out: Record<string, Float32Array> = { loss: value.dataSync() as Float32Array };
    for (const [k, t] of Object.entries(g)) out[k] = t.dataSync() as Float32Array;
    tf.dispose([xs, ys, value, ...Object.values(g)]);
    return out;
  };
  const filterRuns = nativeStats.Conv2DBackpropFilter?.native ?? 0;
  const inputRuns = nativeStats.Conv2DBackpropInput?.native ?? 0;
  const nat = await grads('wasm');
  assert.equal((nativeStats.Conv2DBackpropFilter?.native ?? 0) - filterRuns, 2, 'both conv filter gradients native');
  assert.equal((nativeStats.Conv2DBackpropInput?.native ?? 0) - inputRuns, 1, 'conv2 input gradient native');
  const cpu = await grads('cpu');
  assert.deepEqual(Object.keys(nat).sort(), Object.keys(cpu).sort());
  assert.ok(Object.keys(nat).length >= 9);
  for (const k of Object.keys(cpu)) {
    let maxDiff = 0;
    for (let i = 0; i < cpu[k].length; i++) maxDiff = Math.max(maxDiff, Math.abs(cpu[k][i] - nat[k][i]));
    assert.ok(maxDiff <= TOL, `${k}: max |native - cpu| = ${maxDiff}`);
  }
  await tf.setBackend('wasm');
  model.dispose();
});

test('native MaxPoolGrad: a window of -Infinity gets no gradient, as on cpu (non-overlapping and overlapping windows)', { skip }, async () => {
  const xVals = Float32Array.from([-Infinity, -Infinity, 1, -Infinity, -Infinity, -Infinity, 2, 0, 3, -1, -Infinity, -Infinity, 0, 0, -Infinity, -Infinity]);
  for (const [pool, stride] of [[2, 2], [2, 1]] as const) {
    const attrs = { filterSize: pool, strides: stride, pad: 'valid' };
    const inputs = await maxPoolGradInputs(xVals, [1, 4, 4, 1], pool, stride, 'valid',
      (shape) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i + 1));
    const cpu = await runOn('cpu', 'MaxPoolGrad', inputs, attrs);
    const before = nativeStats.MaxPoolGrad?.native ?? 0;
    const nat = await runOn('wasm', 'MaxPoolGrad', inputs, attrs);
    assert.equal((nativeStats.MaxPoolGrad?.native ?? 0) - before, 1, 'native path');
    assert.deepEqual(Array.from(nat.values), Array.from(cpu.values), `pool ${pool} stride ${stride}`);
  }
});

test('native Sum over 10^6 leading rows equals the JavaScript kernel bit for bit (double accumulation) and cpu within 1e-4', { skip }, async () => {
  const rows = 1_000_000;
  const cols = 4;
  const values = Float32Array.from({ length: rows * cols }, (_, i) => 0.5 + ((i * 2654435761) % 1000) / 1000);
  const inputs = { x: { shape: [rows, cols], values } };
  const attrs = { axis: [0], keepDims: false };
  const nat = await assertNativeMatchesCpu('Sum', inputs, attrs);
  await tf.setBackend('wasm');
  const x = tf.tensor2d(values, [rows, cols]);
  const js = fallbacks.get('Sum')!({ inputs: { x }, backend: tf.backend(), attrs } as never) as tf.TensorInfo;
  const jsValues = tf.backend().readSync(js.dataId) as Float32Array;
  assert.deepEqual(Array.from(nat), Array.from(jsValues));
  tf.backend().disposeData(js.dataId);
  tf.dispose(x);
});

test('the addon\'s convolutions refuse buffers that do not match their parameters (no read or write past a buffer)', { skip }, () => {
  const load = loadAddon();
  assert.ok(load.addon, load.problem);
  // N H W C KH KW F OH OW, strides 1 1, pads 0 0 0 0, dilations 1 1, no activation: x [1,4,4,2], w [3,3,2,3], y [1,2,2,3].
  const p = Int32Array.from([1, 4, 4, 2, 3, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, 0]);
  const f = (n: number) => new Float32Array(n);
  load.addon.conv2d(f(32), f(54), null, f(12), p); // the right sizes work
  assert.throws(() => load.addon!.conv2d(f(31), f(54), null, f(12), p), /conv2d: buffer sizes do not match the parameters/);
  assert.throws(() => load.addon!.conv2d(f(32), f(54), f(2), f(12), p), /conv2d: buffer sizes/);
  assert.throws(() => load.addon!.conv2dBackpropInput(f(12), f(54), f(16), p), /conv2dBackpropInput: buffer sizes/);
  assert.throws(() => load.addon!.conv2dBackpropFilter(f(32), f(12), f(53), p), /conv2dBackpropFilter: buffer sizes/);
});

test('native kernels leak no tensors or wasm memory (training steps, including fallbacks)', { skip }, async () => {
  await tf.setBackend('wasm');
  const x = tf.tensor4d(randn([2, 8, 8, 3]), [2, 8, 8, 3]);
  const w = tf.variable(tf.tensor4d(randn([3, 3, 3, 4]), [3, 3, 3, 4]));
  const d = tf.variable(tf.tensor2d(randn([64, 5]), [64, 5]));
  const step = () => tf.tidy(() => {
    const { grads } = tf.variableGrads(() => {
      const h = tf.relu(tf.conv2d(x, w as tf.Tensor4D, 2, 'same'));
      return tf.matMul(h.reshape([2, 64]), d).sum() as tf.Scalar;
    });
    tf.conv2d(x, w as tf.Tensor4D, 1, 'same', 'NHWC', 2).sum().dataSync(); // dilated: the fallback
    tf.dispose(grads);
  });
  step();
  const before = tf.memory();
  const dataIdsBefore = tf.backend().numDataIds();
  const fallbacksBefore = nativeStats.Conv2D?.fallback ?? 0;
  for (let i = 0; i < 5; i++) step();
  const after = tf.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  // The engine counts only tensors it handed out; the backend's data ids also see outputs a kernel
  // made with makeOutput and never returned.
  assert.equal(tf.backend().numDataIds(), dataIdsBefore, 'wasm data ids');
  assert.equal((nativeStats.Conv2D?.fallback ?? 0) - fallbacksBefore, 5);
  tf.dispose([x, w, d]);
});

test('DNNKIT_NATIVE=0 keeps the pure wasm kernels (a fresh process)', () => {
  const backendJs = fileURLToPath(new URL('../../src/core/backend.js', import.meta.url));
  const script = `
    const tf = await import('@tensorflow/tfjs');
    const { initBackend } = await import(${JSON.stringify(backendJs)});
    const info = await initBackend('wasm');
    const x = tf.randomNormal([1, 6, 6, 2]);
    const f = tf.randomNormal([3, 3, 2, 3]);
    const y = tf.conv2d(x, f, 1, 'same');
    console.log(JSON.stringify({ reason: info.reason, nativeKernels: info.nativeKernels, projectKernels: info.projectKernels, shape: y.shape }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8', env: { ...process.env, DNNKIT_NATIVE: '0' }, cwd: fileURLToPath(new URL('../../..', import.meta.url)),
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.deepEqual(out.nativeKernels, []);
  assert.equal(out.projectKernels.length, 12);
  assert.match(out.reason, /no oneDNN kernels: DNNKIT_NATIVE=0/);
  assert.deepEqual(out.shape, [1, 6, 6, 3]);
});

test('primitive caches are bounded, and a second batch size shares the reordered filter (no copy per batch size)', { skip }, async () => {
  await tf.setBackend('wasm');
  const addon = loadAddon().addon!;
  const f = tf.tensor4d(randn([3, 3, 64, 128]), [3, 3, 64, 128]); // a filter oneDNN reorders into a blocked layout
  const scratchAfter = (batch: number) => {
    tf.tidy(() => tf.conv2d(tf.tensor4d(randn([batch, 9, 9, 64]), [batch, 9, 9, 64]), f, 1, 'same').dataSync());
    return addon.cacheStats().scratchBytes;
  };
  const one = scratchAfter(1);
  assert.ok(one <= 3 * 3 * 64 * 128 * 4 + 4096, `scratch ${one} bytes for a ${3 * 3 * 64 * 128 * 4}-byte filter`);
  for (const batch of [2, 3, 5]) assert.equal(scratchAfter(batch), one, `batch ${batch} allocated another filter copy`);
  // 150 distinct matrix shapes: the matmul cache keeps at most 64 of them.
  for (let m = 1; m <= 150; m++) tf.tidy(() => tf.matMul(tf.ones([m, 8]), tf.ones([8, 3])).dataSync());
  assert.ok(addon.cacheStats().primitives <= 4 * 64, `${addon.cacheStats().primitives} cached primitives`);
  f.dispose();
});
