/**
 * The native C++ loops that run on oneDNN's OpenMP threads when large (native/src/dnnkit_native.cc,
 * kParallelMin elements): Slice and DnnkitReluGrad against the tfjs kernels they replace (the same
 * bits: a copy, and dy * step(x)), and every threaded loop (Slice, ReluGrad, Relu, FusedBatchNorm,
 * MaxPoolGrad, element-wise Binary/Unary) giving the same bits on 2 threads as on 1, on sizes above
 * the threshold. This is what keeps `--threads 2` results identical to `--threads 1` outside the
 * convolutions. Without the addon the tests skip, unless DNNKIT_REQUIRE_NATIVE=1.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { nativeStats } from '../../src/core/native/index.js';
import { binaryPeriod } from '../../src/core/native/kernels.js';
import { loadAddon } from '../../src/core/native/addon.js';
import { RELU_GRAD } from '../../src/core/kernels/relu_grad.js';
import { createRng } from '../../src/core/rng.js';

const rng = createRng(23);
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const randn = (shape: number[]) => Float32Array.from({ length: size(shape) }, () => rng.normal());

const info = await initBackend('wasm');
const required = process.env.DNNKIT_REQUIRE_NATIVE === '1';
const skip = info.nativeKernels.length > 0 || required ? false : 'native kernels not in use';
const addon = loadAddon().addon;
after(() => addon?.setThreads(1));

/** Bits of a float array (NaN payloads and -0 included). */
const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
function assertSameBits(got: Float32Array, want: Float32Array, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  const g = bits(got);
  const w = bits(want);
  let bad = 0;
  let first = -1;
  for (let i = 0; i < g.length; i++) if (g[i] !== w[i]) { bad++; if (first < 0) first = i; }
  assert.equal(bad, 0, `${what}: ${bad} of ${g.length} values differ (first at ${first}: ${got[first]} vs ${want[first]})`);
}

/** Runs kernel `name` on `backend` and returns its values. */
async function run(backend: string, name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>) {
  await tf.setBackend(backend);
  const out = tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
  const values = out.dataSync() as Float32Array;
  out.dispose();
  return values;
}

// [x shape, begin, size]: the padding gradients of ResNet-18 (conv1's 3-pixel pad, the max pool's
// 1-pixel pad), cuts on the first, middle and last axis, a whole tensor, and ranks 2, 3 and 5.
const SLICE_CASES: [number[], number[], number[]][] = [
  [[4, 230, 230, 3], [0, 3, 3, 0], [4, 224, 224, 3]],
  [[2, 114, 114, 64], [0, 1, 1, 0], [2, 112, 112, 64]],
  [[6, 40, 40, 8], [2, 0, 0, 0], [3, 40, 40, 8]],
  [[3, 50, 60, 7], [1, 5, 7, 2], [2, 30, 40, 4]],
  [[5, 30, 40, 9], [0, 0, 0, 0], [5, 30, 40, 9]],
  [[300, 257], [10, 1], [200, 250]],
  [[7, 90, 100], [1, 2, 0], [5, 80, 100]],
  [[2, 3, 20, 30, 16], [1, 0, 3, 4, 0], [1, 3, 15, 20, 16]],
];

for (const [shape, begin, sz] of SLICE_CASES) {
  test(`native Slice = tfjs's Slice bit for bit: [${shape}] from [${begin}] size [${sz}]`, { skip }, async () => {
    const values = randn(shape);
    values[1] = NaN;
    values[2] = -0;
    const on = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor(values, shape);
      const out = await run(backend, 'Slice', { x }, { begin, size: sz });
      x.dispose();
      return out;
    };
    const want = await on('cpu');
    const before = nativeStats.Slice?.native ?? 0;
    const got = await on('wasm');
    assert.equal((nativeStats.Slice?.native ?? 0) - before, 1, 'ran natively');
    assertSameBits(got, want, 'Slice');
  });
}

test('Slice falls back for int32 and for small float32 slices (same values)', { skip }, async () => {
  await tf.setBackend('wasm');
  const before = { ...(nativeStats.Slice ?? { native: 0, fallback: 0 }) };
  const xi = tf.tensor2d(Int32Array.from({ length: 200 * 300 }, (_, i) => i), [200, 300], 'int32');
  const si = tf.slice(xi, [5, 7], [100, 200]);
  assert.equal(si.dtype, 'int32');
  assert.equal((si.dataSync() as Int32Array)[0], 5 * 300 + 7);
  const xf = tf.tensor2d(randn([10, 10]), [10, 10]);
  const sf = tf.slice(xf, [1, 1], [3, 3]);
  assert.equal(sf.dataSync()[0], xf.dataSync()[11]);
  const after = nativeStats.Slice ?? { native: 0, fallback: 0 };
  assert.equal(after.native - before.native, 0);
  assert.equal(after.fallback - before.fallback, 2);
  tf.dispose([xi, si, xf, sf]);
});

test('native ReluGrad on a large tensor: dy * step(x) bit for bit, with 0, -0, NaN and +-Infinity in x and dy', { skip }, async () => {
  const shape = [3, 56, 56, 64];
  const x = randn(shape);
  const dy = randn(shape);
  // Edge values spread over the tensor (also past the first thread's half).
  const edges = [0, -0, NaN, Infinity, -Infinity, 1e-40, -1e-40];
  for (let i = 0; i < 64; i++) {
    const at = Math.floor((i / 64) * x.length) + 3;
    x[at] = edges[i % edges.length];
    dy[at + 1] = edges[(i + 3) % edges.length];
  }
  const on = async (backend: string) => {
    await tf.setBackend(backend);
    const xt = tf.tensor(x, shape);
    const dyt = tf.tensor(dy, shape);
    // cpu: tfjs's formula; wasm: the kernel.
    const out = backend === 'cpu'
      ? tf.tidy(() => tf.mul(dyt, tf.cast(tf.step(xt), 'float32')).dataSync() as Float32Array)
      : await run('wasm', RELU_GRAD, { dy: dyt, x: xt }, {});
    tf.dispose([xt, dyt]);
    return out;
  };
  const want = await on('cpu');
  const before = nativeStats[RELU_GRAD]?.native ?? 0;
  const got = await on('wasm');
  assert.equal((nativeStats[RELU_GRAD]?.native ?? 0) - before, 1, 'ran natively');
  assertSameBits(got, want, 'ReluGrad');
});

test('every threaded native loop gives the same bits on 2 threads as on 1', { skip }, () => {
  assert.ok(addon, 'addon loaded');
  const shape = [4, 56, 56, 64]; // 802,816 elements: far above the threshold
  const n = size(shape);
  const x = randn(shape);
  const dy = randn(shape);
  const mean = randn([64]);
  const variance = Float32Array.from(randn([64]), (v) => Math.abs(v) + 0.1);
  const offset = randn([64]);
  const scale = randn([64]);
  // Max pooling 3x3 stride 2 pad 1 (ResNet-18's: overlapping windows) and 2x2 stride 2 (MNIST's).
  const poolOut = (h: number, k: number, s: number, p: number) => Math.floor((h + 2 * p - k) / s) + 1;
  const calls: [string, () => Float32Array][] = [
    ['reluGrad', () => { const o = new Float32Array(n); addon!.reluGrad(dy, x, o); return o; }],
    ['relu', () => { const o = new Float32Array(n); addon!.relu(x, o); return o; }],
    ['batchNorm', () => { const o = new Float32Array(n); addon!.batchNorm(x, mean, variance, offset, scale, o, Int32Array.from([64]), 1e-5); return o; }],
    ['slice', () => { const o = new Float32Array(4 * 50 * 54 * 64); addon!.slice(x, o, Int32Array.from([4, ...shape, 0, 3, 1, 0, 4, 50, 54, 64])); return o; }],
    ...[0, 1, 2, 3].map((op): [string, () => Float32Array] => [`binary ${op}`, () => { const o = new Float32Array(n); addon!.binary(x, dy, o, Int32Array.from([op, 0, 0])); return o; }]),
    ['binary scalar', () => { const o = new Float32Array(n); addon!.binary(Float32Array.of(0.5), dy, o, Int32Array.from([2, 1, 0])); return o; }],
    ['binary bias b', () => { const o = new Float32Array(n); addon!.binary(x, mean, o, Int32Array.from([0, 0, 64])); return o; }],
    ['binary bias a', () => { const o = new Float32Array(n); addon!.binary(scale, dy, o, Int32Array.from([1, 64, 0])); return o; }],
    ...[0, 1].map((op): [string, () => Float32Array] => [`unary ${op}`, () => { const o = new Float32Array(n); addon!.unary(x, o, Int32Array.from([op])); return o; }]),
    ...([[3, 2, 1], [2, 2, 0]] as const).map(([k, s, p]): [string, () => Float32Array] => [`maxPoolGrad ${k}x${k}/${s}`, () => {
      const oh = poolOut(56, k, s, p);
      const g = randnSeeded([4, oh, oh, 64], 7);
      const o = new Float32Array(n);
      addon!.maxPoolGrad(g, x, o, Int32Array.from([4, 56, 56, 64, oh, oh, k, k, s, s, p, p]));
      return o;
    }]),
  ];
  addon.setThreads(1);
  const one = calls.map(([, f]) => f());
  addon.setThreads(2);
  assert.equal(addon.threads(), 2);
  const two = calls.map(([, f]) => f());
  addon.setThreads(1);
  calls.forEach(([name], i) => {
    assert.ok(one[i].some((v) => v !== 0), `${name}: not all zero`);
    assertSameBits(two[i], one[i], `${name}, 2 threads vs 1`);
  });
});

function randnSeeded(shape: number[], seed: number): Float32Array {
  const r = createRng(seed);
  return Float32Array.from({ length: size(shape) }, () => r.normal());
}

test('binaryPeriod: whole, scalar and trailing-run operands go native, other broadcasts to wasm', () => {
  assert.equal(binaryPeriod([128, 26, 26, 32], [128, 26, 26, 32]), 0);
  assert.equal(binaryPeriod([1, 128, 32], [128, 32]), 0); // same size: same elements in the same order
  assert.equal(binaryPeriod([1], [128, 32]), 1);
  assert.equal(binaryPeriod([1, 1], [128, 32]), 1);
  assert.equal(binaryPeriod([32], [128, 26, 26, 32]), 32); // a conv's bias
  assert.equal(binaryPeriod([1, 1, 1, 32], [128, 26, 26, 32]), 32);
  assert.equal(binaryPeriod([26, 32], [128, 26, 26, 32]), 832);
  assert.equal(binaryPeriod([128, 1], [128, 32]), undefined); // a column: not a repeated run
  assert.equal(binaryPeriod([26, 1, 32], [128, 26, 26, 32]), undefined);
});

test('binary with a bias operand: each element op(a[i], b[i % C]) (and the other way round), checked against a plain loop', { skip }, () => {
  assert.ok(addon, 'addon loaded');
  const C = 48;
  const rows = 1000; // 48,000 elements: above the threshold, so on oneDNN's threads when there are 2
  const whole = randnSeeded([rows, C], 3);
  const bias = randnSeeded([C], 4);
  const ops = [(p: number, q: number) => p + q, (p: number, q: number) => p - q, (p: number, q: number) => p * q, (p: number, q: number) => p / q];
  for (const [op, f] of ops.entries()) {
    const yb = new Float32Array(rows * C);
    addon.binary(whole, bias, yb, Int32Array.from([op, 0, C]));
    assertSameBits(yb, Float32Array.from(whole, (v, i) => f(v, bias[i % C])), `op ${op}, bias second`);
    const ya = new Float32Array(rows * C);
    addon.binary(bias, whole, ya, Int32Array.from([op, C, 0]));
    assertSameBits(ya, Float32Array.from(whole, (v, i) => f(bias[i % C], v)), `op ${op}, bias first`);
  }
  assert.throws(() => addon!.binary(whole, bias, new Float32Array(rows * C), Int32Array.from([0, 0, C + 1])), /binary: sizes/);
  assert.throws(() => addon!.binary(whole, bias, new Float32Array(rows * C + 1), Int32Array.from([0, 0, C])), /binary: sizes/);
  assert.throws(() => addon!.binary(bias, bias, new Float32Array(rows * C), Int32Array.from([0, C, C])), /binary: sizes/); // one operand must be whole
});
