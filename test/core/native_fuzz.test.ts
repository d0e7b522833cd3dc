/**
 * A shape fuzzer for the native addon: every kernel it computes (the oneDNN convolutions and
 * matrix products, the C++ loops, the fused LSTM) against its JavaScript path on seeded random
 * shapes, strides, paddings and batch sizes (1 and odd sizes included): CASES_PER_KERNEL cases
 * per kernel, over 600 in all.
 *
 * Memory safety: the kernels are built here over a guarded addon that hands the C++ code exact-size
 * copies of every buffer (Node's array-buffer allocator, i.e. malloc) instead of views of the wasm
 * heap. Under AddressSanitizer (`npm run test:asan`) a read or write one element past any buffer
 * is then reported; without it, the test still checks the values, that inputs are not written,
 * and that the native path (not the fallback) ran.
 *
 * Reference: the same kernel on the tfjs cpu backend (plain JavaScript), on the same values; for
 * the fused LSTM, the composite tf-op LSTM on cpu. (Not the wasm kernels the native ones fall back
 * to: this fuzzer found tfjs-backend-wasm 4.22's XNNPACK Conv2D returning zeros for a 1x2 filter
 * with stride 2, and its _FusedMatMul wrong with both operands transposed, where oneDNN and cpu
 * agree.) Tolerance: max |native - reference| <= 1e-4 * max(1, max |reference|).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { loadAddon, type NativeAddon } from '../../src/core/native/addon.js';
import { fallbacks, nativeStatus } from '../../src/core/native/index.js';
import { ELEMENTWISE_MIN, makeExtraKernels, makeLstmKernels, makeNativeKernels } from '../../src/core/native/kernels.js';
import { createRng } from '../../src/core/rng.js';
import { referenceLstm } from '../sst2/reference_lstm.js';

const TOL = 1e-4;
const CASES_PER_KERNEL = 40;

await initBackend('wasm');
const load = loadAddon();
const required = process.env.DNNKIT_REQUIRE_NATIVE === '1';
const skip = load.addon || required ? false : `native addon not in use: ${nativeStatus()?.problem ?? load.problem}`;

/** Which argument(s) of each addon function are outputs (the others must come back unchanged). */
const OUTPUTS: Record<string, number[]> = {
  conv2d: [3], conv2dBackpropInput: [2], conv2dBackpropFilter: [2], matmul: [3], relu: [1], batchNorm: [5],
  maxPoolGrad: [2], sumRows: [1], lstmSeq: [4, 5, 6], lstmSeqGrad: [7, 8, 9, 10], binary: [2], unary: [1],
  gatherRows: [2], segmentSum: [2], equal: [2], slice: [1], reluGrad: [2],
};

type View = Float32Array | Int32Array | Uint8Array;
const calls: Record<string, number> = {};

/** The addon with every typed-array argument replaced by an exact-size copy (see the top). */
function guardedAddon(addon: NativeAddon): NativeAddon {
  const wrapped: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(addon)) { // the addon's properties are not enumerable
    const f = (addon as unknown as Record<string, unknown>)[name];
    if (typeof f !== 'function') continue;
    wrapped[name] = (...args: unknown[]) => {
      const copies = args.map((a) => (ArrayBuffer.isView(a) ? (a as View).slice() : a));
      const before = args.map((a) => (ArrayBuffer.isView(a) ? (a as View).slice() : a));
      const result = (f as (...xs: unknown[]) => unknown).apply(addon, copies);
      const outs = OUTPUTS[name] ?? [];
      args.forEach((a, i) => {
        if (!ArrayBuffer.isView(a)) return;
        if (outs.includes(i)) {
          (a as View).set(copies[i] as View);
        } else {
          assert.deepEqual(copies[i], before[i], `${name}: input ${i} was written`);
        }
      });
      calls[name] = (calls[name] ?? 0) + 1;
      return result;
    };
  }
  return wrapped as unknown as NativeAddon;
}

const kernels = new Map<string, tf.KernelConfig['kernelFunc']>();
if (load.addon) {
  const guarded = guardedAddon(load.addon);
  for (const c of [...makeNativeKernels(guarded), ...makeExtraKernels(guarded), ...makeLstmKernels(guarded)]) kernels.set(c.kernelName, c.kernelFunc);
}

const rng = createRng(20261202);
const dataIdsAtStart = tf.engine().backendNames().includes('wasm') ? tf.findBackend('wasm')!.numDataIds() : 0;
const int = (lo: number, hi: number) => lo + rng.int(hi - lo + 1); // inclusive
const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const randn = (shape: number[], scale = 1) => Float32Array.from({ length: size(shape) }, () => rng.normal() * scale);

type Info = tf.TensorInfo;
const backend = () => tf.backend() as unknown as { readSync(id: object): View; disposeData(id: object): void };
const asList = (out: Info | Info[]) => (Array.isArray(out) ? out : [out]);

type CpuBackend = { makeTensorInfo(shape: number[], dtype: tf.DataType, values: View): Info; readSync(id: object): View; disposeData(id: object): void };

/**
 * Runs kernel `name` natively (through the guarded addon) on the wasm tensors `inputs`, and the
 * cpu backend's kernel on copies of their values; compares every output. `expectCalls` is the
 * addon function the native path must call (a native kernel that declined would fall back).
 */
function compare(name: string, expectCalls: string, inputs: Record<string, Info>, attrs: Record<string, unknown>, label: string) {
  const before = calls[expectCalls] ?? 0;
  const nat = asList(kernels.get(name)!({ inputs, backend: tf.backend(), attrs } as never) as Info | Info[]);
  const cpu = tf.findBackend('cpu') as unknown as CpuBackend;
  const cpuInputs = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, cpu.makeTensorInfo(t.shape, t.dtype, backend().readSync(t.dataId).slice())]));
  let ref: Info[] = [];
  try {
    assert.equal((calls[expectCalls] ?? 0) - before, 1, `${name} ${label}: the native path did not run`);
    ref = asList(tf.getKernel(name, 'cpu')!.kernelFunc({ inputs: cpuInputs, backend: cpu, attrs } as never) as Info | Info[]);
    assert.equal(nat.length, ref.length);
    nat.forEach((n, k) => {
      assert.deepEqual(n.shape, ref[k].shape, `${name} ${label}: shape of output ${k}`);
      assertClose(backend().readSync(n.dataId), cpu.readSync(ref[k].dataId), `${name} ${label} output ${k}`);
    });
  } finally {
    for (const t of nat) backend().disposeData(t.dataId);
    for (const t of [...ref, ...Object.values(cpuInputs)]) cpu.disposeData(t.dataId);
  }
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) if (Number.isFinite(want[i])) maxAbs = Math.max(maxAbs, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i])) {
      assert.ok(Number.isNaN(got[i]), `${what}[${i}]: ${got[i]}, expected NaN`);
      continue;
    }
    const diff = Math.abs(got[i] - want[i]);
    assert.ok(diff <= TOL * Math.max(1, maxAbs) || got[i] === want[i], `${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

/** Runs `body` with fresh wasm tensors made from `values`, disposing them after. */
function withTensors(values: Record<string, { shape: number[]; data: Float32Array | Int32Array; dtype?: 'float32' | 'int32' }>,
  body: (t: Record<string, tf.Tensor>) => void) {
  const t: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(values)) t[k] = tf.tensor(v.data, v.shape, v.dtype ?? 'float32');
  try {
    body(t);
  } finally {
    tf.dispose(Object.values(t));
  }
}

type Pad = 'valid' | 'same' | number[][];
/** A random convolution that tfjs accepts: x, filter, stride, padding. */
function convCase(): { x: number[]; f: number[]; stride: number; pad: Pad; info: tf.backend_util.Conv2DInfo } {
  for (;;) {
    const x = [pick([1, 1, 2, 3, 5]), int(1, 12), int(1, 12), int(1, 9)];
    const f = [int(1, 5), int(1, 5), x[3], int(1, 9)];
    const stride = int(1, 3);
    const pad: Pad = pick(['valid', 'same', 'explicit'] as const) === 'explicit'
      ? [[0, 0], [int(0, 2), int(0, 2)], [int(0, 2), int(0, 2)], [0, 0]]
      : pick(['valid', 'same'] as const);
    try {
      const info = tf.backend_util.computeConv2DInfo(x as never, f as never, stride, 1, pad as never);
      if (info.outHeight > 0 && info.outWidth > 0) return { x, f, stride, pad, info };
    } catch { /* an impossible combination: draw again */ }
  }
}

const label = (o: object) => JSON.stringify(o);

test('fuzz: Conv2D and FusedConv2D (bias, relu) equal the cpu kernel', { skip }, async () => {
  await tf.setBackend('wasm');
  for (let i = 0; i < CASES_PER_KERNEL; i++) {
    const c = convCase();
    const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', dilations: 1 };
    withTensors({ x: { shape: c.x, data: randn(c.x) }, filter: { shape: c.f, data: randn(c.f) }, bias: { shape: [c.f[3]], data: randn([c.f[3]]) } }, (t) => {
      compare('Conv2D', 'conv2d', { x: t.x, filter: t.filter }, attrs, label(c));
      const activation = pick(['relu', 'linear']);
      const withBias = rng.next() < 0.7;
      compare('FusedConv2D', 'conv2d', withBias ? { x: t.x, filter: t.filter, bias: t.bias } : { x: t.x, filter: t.filter },
        { ...attrs, activation }, label({ ...c, activation, withBias }));
    });
  }
});

test('fuzz: Conv2DBackpropInput and Conv2DBackpropFilter equal the cpu kernels', { skip }, async () => {
  await tf.setBackend('wasm');
  for (let i = 0; i < CASES_PER_KERNEL; i++) {
    const c = convCase();
    const dyShape = c.info.outShape;
    withTensors({ x: { shape: c.x, data: randn(c.x) }, filter: { shape: c.f, data: randn(c.f) }, dy: { shape: dyShape, data: randn(dyShape) } }, (t) => {
      compare('Conv2DBackpropInput', 'conv2dBackpropInput', { dy: t.dy, filter: t.filter },
        { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x }, label(c));
      compare('Conv2DBackpropFilter', 'conv2dBackpropFilter', { x: t.x, dy: t.dy },
        { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: c.f }, label(c));
    });
  }
});

test('fuzz: BatchMatMul and _FusedMatMul (broadcast batches, transposes, rank 2 and 3) equal the cpu kernel', { skip }, async () => {
  await tf.setBackend('wasm');
  for (let i = 0; i < CASES_PER_KERNEL; i++) {
    const rank = pick([2, 3, 3]);
    const [M, K, N] = [int(1, 40), int(1, 40), int(1, 40)];
    const [bA, bB] = rank === 2 ? [1, 1] : pick([[1, 1], [3, 3], [1, 4], [5, 1], [2, 2]]);
    const [ta, tb] = [rng.next() < 0.5, rng.next() < 0.5];
    const aShape = [...(rank === 3 ? [bA] : []), ...(ta ? [K, M] : [M, K])];
    const bShape = [...(rank === 3 ? [bB] : []), ...(tb ? [N, K] : [K, N])];
    const c = { aShape, bShape, ta, tb };
    withTensors({ a: { shape: aShape, data: randn(aShape) }, b: { shape: bShape, data: randn(bShape) }, bias: { shape: [N], data: randn([N]) } }, (t) => {
      compare('BatchMatMul', 'matmul', { a: t.a, b: t.b }, { transposeA: ta, transposeB: tb }, label(c));
      if (rank === 3) {
        const activation = pick(['relu', 'linear']);
        compare('_FusedMatMul', 'matmul', { a: t.a, b: t.b, bias: t.bias }, { transposeA: ta, transposeB: tb, activation }, label({ ...c, activation }));
      }
    });
  }
});

const randomShape = (rank: number, hi: number) => Array.from({ length: rank }, () => int(1, hi));

test('fuzz: Relu, FusedBatchNorm and leading-axis Sum equal the cpu kernels', { skip }, async () => {
  await tf.setBackend('wasm');
  for (let i = 0; i < CASES_PER_KERNEL; i++) {
    const shape = randomShape(int(1, 4), 9);
    const C = shape[shape.length - 1];
    withTensors({
      x: { shape, data: randn(shape) }, mean: { shape: [C], data: randn([C]) },
      variance: { shape: [C], data: Float32Array.from(randn([C]), (v) => Math.abs(v) + 0.05) },
      offset: { shape: [C], data: randn([C]) }, scale: { shape: [C], data: randn([C]) },
    }, (t) => {
      compare('Relu', 'relu', { x: t.x }, {}, label({ shape }));
      const withOffset = rng.next() < 0.5;
      const withScale = rng.next() < 0.5;
      compare('FusedBatchNorm', 'batchNorm', { x: t.x, mean: t.mean, variance: t.variance, ...(withOffset ? { offset: t.offset } : {}), ...(withScale ? { scale: t.scale } : {}) },
        { varianceEpsilon: pick([1e-3, 1e-5]) }, label({ shape, withOffset, withScale }));
      if (shape.length >= 2) {
        const k = int(1, shape.length - 1);
        const axis = Array.from({ length: k }, (_, d) => d);
        compare('Sum', 'sumRows', { x: t.x }, { axis, keepDims: rng.next() < 0.5 }, label({ shape, axis }));
      }
    });
  }
});

test('fuzz: MaxPoolGrad (valid and same, overlapping and not, ties) equals the cpu kernel', { skip }, async () => {
  await tf.setBackend('wasm');
  let done = 0;
  while (done < CASES_PER_KERNEL) {
    const xShape = [pick([1, 2, 3]), int(1, 11), int(1, 11), int(1, 6)];
    const pool = int(1, 4);
    const stride = int(1, 3);
    const pad = pick(['valid', 'same'] as const);
    if (pad === 'valid' && (pool > xShape[1] || pool > xShape[2])) continue;
    // Rounded values: equal maxima in a window (the first one gets the gradient).
    const xv = Float32Array.from(randn(xShape), (v) => Math.round(v * 2) / 2);
    const x = tf.tensor4d(xv, xShape as [number, number, number, number]);
    const y = tf.maxPool(x, pool, stride, pad);
    const dy = tf.tensor(randn(y.shape), y.shape);
    try {
      compare('MaxPoolGrad', 'maxPoolGrad', { dy, input: x, output: y }, { filterSize: pool, strides: stride, pad }, label({ xShape, pool, stride, pad }));
    } finally {
      tf.dispose([x, y, dy]);
    }
    done++;
  }
});

test('fuzz: GatherV2 rows and UnsortedSegmentSum (repeated and out-of-range ids) equal the cpu kernels', { skip }, async () => {
  await tf.setBackend('wasm');
  for (let i = 0; i < CASES_PER_KERNEL; i++) {
    const rows = int(1, 30);
    const inner = randomShape(int(0, 2), 7);
    const idxShape = randomShape(int(1, 2), 9);
    const indices = Int32Array.from({ length: size(idxShape) }, () => rng.int(rows));
    const segs = int(1, 12);
    const ids = Int32Array.from({ length: size(idxShape) }, () => int(-2, segs + 1));
    const xShape = [rows, ...inner];
    const vShape = [ids.length, ...inner]; // flat ids, as the embedding gradient has them
    withTensors({
      x: { shape: xShape, data: randn(xShape) }, indices: { shape: idxShape, data: indices, dtype: 'int32' },
      v: { shape: vShape, data: randn(vShape) }, ids: { shape: [ids.length], data: ids, dtype: 'int32' },
    }, (t) => {
      compare('GatherV2', 'gatherRows', { x: t.x, indices: t.indices }, { axis: 0, batchDims: 0 }, label({ xShape, idxShape }));
      compare('UnsortedSegmentSum', 'segmentSum', { x: t.v, segmentIds: t.ids }, { numSegments: segs }, label({ vShape, segs }));
    });
  }
});

test('fuzz: element-wise Add, Sub, Multiply, RealDiv, Sqrt, Square (large; scalar and bias operands) equal the cpu kernels', { skip }, async () => {
  await tf.setBackend('wasm');
  const ops: [string, number][] = [['Add', 2], ['Sub', 2], ['Multiply', 2], ['RealDiv', 2], ['Sqrt', 1], ['Square', 1]];
  for (let i = 0; i < CASES_PER_KERNEL; i++) {
    const n = ELEMENTWISE_MIN + rng.int(5000);
    // A bias: the last axes of a [rows, h, c] tensor ([c], [h, c] or [1, 1, c]), as a conv layer adds it.
    const [h, c] = [int(1, 5), int(1, 70)];
    const rows = Math.ceil(n / (h * c));
    const kind = pick(['none', 'a', 'b', 'bias a', 'bias b'] as const);
    const shape = kind.startsWith('bias') ? [rows, h, c] : pick([[n], [1, n], [n, 1]]);
    const bias = pick([[c], [h, c], [1, 1, c]]);
    for (const [name, arity] of ops) {
      const aShape = arity === 2 && kind === 'a' ? [1] : arity === 2 && kind === 'bias a' ? bias : shape;
      const bShape = kind === 'b' ? [1] : kind === 'bias b' ? bias : shape;
      withTensors({ a: { shape: aShape, data: randn(aShape) }, b: { shape: bShape, data: randn(bShape) } }, (t) => {
        if (arity === 1) compare(name, 'unary', { x: size(t.b.shape) < size(t.a.shape) ? t.a : t.b }, {}, label({ name, n }));
        else compare(name, 'binary', { a: t.a, b: t.b }, {}, label({ name, aShape, bShape }));
      });
    }
  }
});

test('fuzz: Slice (ranks 1-5, any begin and size) and the Relu gradient (with zeros and NaN) equal the cpu kernels', { skip }, async () => {
  await tf.setBackend('wasm');
  for (let i = 0; i < CASES_PER_KERNEL; i++) {
    // A shape of at least ELEMENTWISE_MIN elements and a slice of at least that many.
    const rank = int(1, 5);
    let shape: number[];
    let begin: number[];
    let sz: number[];
    do {
      shape = Array.from({ length: rank }, () => int(1, rank === 1 ? 20000 : rank === 2 ? 300 : 30));
      begin = shape.map((d) => int(0, d - 1));
      sz = shape.map((d, k) => (rng.next() < 0.3 ? d - begin[k] : int(1, d - begin[k])));
      if (rng.next() < 0.3) begin = begin.map(() => 0);
      sz = sz.map((v, k) => Math.min(v, shape[k] - begin[k]));
    } while (size(sz) < ELEMENTWISE_MIN);
    withTensors({ x: { shape, data: randn(shape) } }, (t) => compare('Slice', 'slice', { x: t.x }, { begin, size: sz }, label({ shape, begin, sz })));
    const n = ELEMENTWISE_MIN + rng.int(70000);
    const x = randn([n]).map((v) => (rng.next() < 0.05 ? 0 : rng.next() < 0.01 ? NaN : v));
    withTensors({ dy: { shape: [n], data: randn([n]) }, x: { shape: [n], data: x } }, (t) => {
      const before = calls.reluGrad ?? 0;
      const out = kernels.get('DnnkitReluGrad')!({ inputs: { dy: t.dy, x: t.x }, backend: tf.backend(), attrs: {} } as never) as Info;
      try {
        assert.equal((calls.reluGrad ?? 0) - before, 1, 'the native ReluGrad ran');
        const got = backend().readSync(out.dataId) as Float32Array;
        const dyv = backend().readSync(t.dy.dataId) as Float32Array;
        const want = Float32Array.from(x, (v, k) => (Number.isNaN(v) ? NaN : dyv[k] * (v > 0 ? 1 : 0)));
        assertClose(got, want, `ReluGrad n=${n}`);
      } finally {
        backend().disposeData(out.dataId);
      }
    });
  }
});

test('fuzz: Equal with broadcasting equals the cpu kernel', { skip }, async () => {
  await tf.setBackend('wasm');
  for (let i = 0; i < CASES_PER_KERNEL; i++) {
    const shape = randomShape(int(1, 4), 6);
    // Broadcast some axes of each operand (size 1), drop leading axes of one sometimes.
    const aShape = shape.map((d) => (rng.next() < 0.3 ? 1 : d));
    const bFull = shape.map((d) => (rng.next() < 0.3 ? 1 : d));
    const bShape = rng.next() < 0.3 ? bFull.slice(int(0, bFull.length - 1)) : bFull;
    const small = (s: number[]) => Float32Array.from({ length: size(s) }, () => rng.int(3)); // ties are common
    withTensors({ a: { shape: aShape, data: small(aShape) }, b: { shape: bShape, data: small(bShape) } }, (t) => {
      compare('Equal', 'equal', { a: t.a, b: t.b }, {}, label({ aShape, bShape }));
    });
  }
});

test('fuzz: the fused LSTM and its gradient equal the composite tf-op LSTM on cpu', { skip }, async () => {
  await tf.setBackend('wasm');
  for (let i = 0; i < CASES_PER_KERNEL; i++) {
    const [T, B, I, U] = [int(1, 7), pick([1, 2, 3, 5]), int(1, 9), int(1, 9)];
    const reverse = rng.next() < 0.5;
    const c = { T, B, I, U, reverse };
    withTensors({
      x: { shape: [T, B, I], data: randn([T, B, I]) }, kernel: { shape: [I, 4 * U], data: randn([I, 4 * U], 1 / Math.sqrt(I)) },
      recurrentKernel: { shape: [U, 4 * U], data: randn([U, 4 * U], 1 / Math.sqrt(U)) }, bias: { shape: [4 * U], data: randn([4 * U], 0.5) },
      dy: { shape: [T, B, U], data: randn([T, B, U]) },
    }, (t) => {
      const run = (name: string, inputs: Record<string, Info>) =>
        asList(kernels.get(name)!({ inputs, backend: tf.backend(), attrs: { reverse } } as never) as Info[]);
      const before = calls.lstmSeq ?? 0;
      const [h, cState, gates] = run('DnnkitLstmSeq', { x: t.x, kernel: t.kernel, recurrentKernel: t.recurrentKernel, bias: t.bias });
      assert.equal((calls.lstmSeq ?? 0) - before, 1);
      const grads = run('DnnkitLstmSeqGrad', { dy: t.dy, x: t.x, kernel: t.kernel, recurrentKernel: t.recurrentKernel, h, c: cState, gates });
      const values = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { shape: v.shape, data: v.dataSync().slice() }]));
      tf.setBackend('cpu');
      const ref = tf.tidy(() => {
        const c = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, tf.tensor(v.data, v.shape)]));
        const f = (x: tf.Tensor, wx: tf.Tensor, wh: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(referenceLstm(x as tf.Tensor3D, wx as tf.Tensor2D, wh as tf.Tensor2D, b as tf.Tensor1D, reverse), c.dy));
        const hRef = referenceLstm(c.x as tf.Tensor3D, c.kernel as tf.Tensor2D, c.recurrentKernel as tf.Tensor2D, c.bias as tf.Tensor1D, reverse);
        const g = tf.grads(f as never)([c.x, c.kernel, c.recurrentKernel, c.bias]);
        return [hRef, ...g].map((r) => r.dataSync().slice() as Float32Array);
      });
      tf.setBackend('wasm');
      try {
        assertClose(backend().readSync(h.dataId), ref[0], `lstm h ${label(c)}`);
        grads.forEach((g, k) => assertClose(backend().readSync(g.dataId), ref[k + 1], `lstm grad ${k} ${label(c)}`));
      } finally {
        for (const o of [h, cState, gates, ...grads]) backend().disposeData(o.dataId);
      }
    });
  }
});

test('fuzz: at least 600 native calls were checked, and none left a wasm buffer behind', { skip }, () => {
  const total = Object.values(calls).reduce((a, b) => a + b, 0);
  assert.ok(total >= 600, `only ${total} native calls`);
  assert.equal(tf.findBackend('wasm')!.numDataIds(), dataIdsAtStart, 'wasm buffers left behind');
});
