/**
 * Every kernel dnnkit registers for wasm against the tfjs cpu backend's result, on seeded random
 * inputs over several shapes, strides and paddings: max |difference| <= 1e-4.
 * These are the pure wasm kernels: the native oneDNN overrides are off here (DNNKIT_NATIVE=0;
 * test/core/native.test.ts tests those).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { ADDED_WASM_KERNELS, REPLACED_WASM_KERNELS } from '../../src/core/kernels/index.js';
import { createRng } from '../../src/core/rng.js';
import { maxPoolGradInputs } from './max_pool_inputs.js';
import { CONV_CASES } from './conv_cases.js';

const TOL = 1e-4;
const rng = createRng(7);
const randn = (shape: number[]) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());

type Inputs = Record<string, { shape: number[]; values: Float32Array | Int32Array; dtype?: tf.DataType }>;

/** Runs kernel `name` on `backend` with fresh tensors; returns its values and shape. */
async function runOn(backend: string, name: string, inputs: Inputs, attrs: Record<string, unknown>) {
  await tf.setBackend(backend);
  const ts: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) ts[k] = tf.tensor(v.values, v.shape, v.dtype ?? 'float32');
  const out = tf.engine().runKernel(name, ts as unknown as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
  const result = { values: Array.from(out.dataSync()), shape: out.shape };
  tf.dispose([out, ...Object.values(ts)]);
  return result;
}

async function assertSameAsCpu(name: string, inputs: Inputs, attrs: Record<string, unknown>) {
  const cpu = await runOn('cpu', name, inputs, attrs);
  const wasm = await runOn('wasm', name, inputs, attrs);
  assert.deepEqual(wasm.shape, cpu.shape, `${name} shape`);
  let maxDiff = 0;
  for (let i = 0; i < cpu.values.length; i++) maxDiff = Math.max(maxDiff, Math.abs(cpu.values[i] - wasm.values[i]));
  assert.ok(maxDiff <= TOL, `${name} ${JSON.stringify(attrs)}: max |wasm - cpu| = ${maxDiff}`);
}

before(async () => {
  process.env.DNNKIT_NATIVE = '0';
  const info = await initBackend('wasm');
  assert.deepEqual(info.nativeKernels, [], 'the pure wasm kernels are under test');
});

test('the project registers exactly the kernels it tests here (DnnkitReluGrad, Identity: in relu_grad.test.ts)', () => {
  const names = [...ADDED_WASM_KERNELS, ...REPLACED_WASM_KERNELS].map((k) => k.kernelName).sort();
  assert.deepEqual(names, ['BatchMatMul', 'Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNative', 'DnnkitReluGrad',
    'FusedConv2D', 'FusedDepthwiseConv2D', 'Identity', 'MaxPoolGrad', 'Sum', 'UnsortedSegmentSum']);
  for (const n of names) assert.ok(tf.getKernel(n, 'wasm'), `${n} registered for wasm`);
});


for (const [xShape, fShape, stride, pad] of CONV_CASES) {
  const label = `x${JSON.stringify(xShape)} f${JSON.stringify(fShape)} s${stride} pad ${JSON.stringify(pad)}`;
  const info = tf.backend_util.computeConv2DInfo(xShape as never, fShape as never, stride, 1, pad as never);
  const dyShape = info.outShape;
  test(`Conv2DBackpropFilter matches cpu: ${label}`, async () => {
    await assertSameAsCpu('Conv2DBackpropFilter',
      { x: { shape: xShape, values: randn(xShape) }, dy: { shape: dyShape, values: randn(dyShape) } },
      { strides: stride, pad, dataFormat: 'NHWC', filterShape: fShape });
  });
  test(`Conv2DBackpropInput matches cpu: ${label}`, async () => {
    await assertSameAsCpu('Conv2DBackpropInput',
      { dy: { shape: dyShape, values: randn(dyShape) }, filter: { shape: fShape, values: randn(fShape) } },
      { strides: stride, pad, dataFormat: 'NHWC', inputShape: xShape });
  });
}

// 'same' padding with strides: tfjs-backend-wasm 4.22's own kernels are wrong for 52 of these 216
// shapes (1x2, 2x1, 1x3, 3x1 filters at stride 2 or 3; 2x2 and 2x3 at stride 3); same_padding.ts.
test("Conv2D, FusedConv2D and the depthwise convolutions with 'same' padding match cpu (216 strided shapes each)", async () => {
  for (const [fh, fw] of [[1, 2], [2, 1], [2, 2], [3, 3], [1, 3], [3, 1], [2, 3], [4, 4], [5, 5]]) {
    for (const stride of [1, 2, 3]) {
      for (const [h, w] of [[5, 5], [6, 7], [8, 8], [9, 4]]) {
        for (const [ci, co] of [[1, 1], [3, 4]]) {
          const x = { shape: [2, h, w, ci], values: randn([2, h, w, ci]) };
          const f = { shape: [fh, fw, ci, co], values: randn([fh, fw, ci, co]) };
          const df = { shape: [fh, fw, ci, 1], values: randn([fh, fw, ci, 1]) };
          const conv = { strides: stride, pad: 'same', dataFormat: 'NHWC', dilations: 1 };
          await assertSameAsCpu('Conv2D', { x, filter: f }, conv);
          await assertSameAsCpu('FusedConv2D', { x, filter: f, bias: { shape: [co], values: randn([co]) } }, { ...conv, activation: 'relu' });
          await assertSameAsCpu('DepthwiseConv2dNative', { x, filter: df }, conv);
          await assertSameAsCpu('FusedDepthwiseConv2D', { x, filter: df, bias: { shape: [ci], values: randn([ci]) } }, { ...conv, activation: 'linear' });
        }
      }
    }
  }
});

// [x shape, pool, stride, pad]
const POOL_CASES: [number[], number, number, 'valid' | 'same'][] = [
  [[2, 8, 8, 3], 2, 2, 'valid'],
  [[2, 9, 9, 3], 2, 2, 'valid'],
  [[2, 9, 9, 2], 3, 2, 'same'],
  [[1, 7, 7, 4], 3, 1, 'same'],
  [[2, 112, 112, 2], 3, 2, 'same'],
];
for (const [xShape, pool, stride, pad] of POOL_CASES) {
  test(`MaxPoolGrad matches cpu: x${JSON.stringify(xShape)} pool ${pool} stride ${stride} ${pad}`, async () => {
    const inputs = await maxPoolGradInputs(randn(xShape), xShape, pool, stride, pad, randn);
    await assertSameAsCpu('MaxPoolGrad', inputs, { filterSize: pool, strides: stride, pad });
  });
}

for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
  test(`BatchMatMul matches cpu: transposeA ${ta}, transposeB ${tb}`, async () => {
    const aShape = ta ? [3, 17, 5] : [3, 5, 17];
    const bShape = tb ? [3, 9, 17] : [3, 17, 9];
    await assertSameAsCpu('BatchMatMul',
      { a: { shape: aShape, values: randn(aShape) }, b: { shape: bShape, values: randn(bShape) } },
      { transposeA: ta, transposeB: tb });
  });
}

for (const [shape, axis, keepDims] of [
  [[4, 5, 6, 3], [0, 1, 2], false], [[4, 5, 6], [0], true], [[7, 3], 0, false], [[4, 5, 6], [1], false], [[4, 5], [0, 1], false],
] as [number[], number | number[], boolean][]) {
  test(`Sum matches cpu: shape ${JSON.stringify(shape)} axis ${JSON.stringify(axis)} keepDims ${keepDims}`, async () => {
    await assertSameAsCpu('Sum', { x: { shape, values: randn(shape) } }, { axis, keepDims });
  });
}

test('UnsortedSegmentSum matches cpu (repeated and unused segments)', async () => {
  const ids = Int32Array.from({ length: 40 }, () => rng.int(12));
  await assertSameAsCpu('UnsortedSegmentSum',
    { x: { shape: [40, 6], values: randn([40, 6]) }, segmentIds: { shape: [40], values: ids, dtype: 'int32' } },
    { numSegments: 15 });
});

test('project kernels leak no tensors or wasm memory across calls', async () => {
  await tf.setBackend('wasm');
  const x = tf.tensor4d(randn([2, 8, 8, 3]), [2, 8, 8, 3]);
  const w = tf.variable(tf.tensor4d(randn([3, 3, 3, 4]), [3, 3, 3, 4]));
  const step = () => tf.tidy(() => tf.variableGrads(() => tf.maxPool(tf.conv2d(x, w as tf.Tensor4D, 2, 'same'), 2, 2, 'valid').sum() as tf.Scalar).grads[w.name]).dispose();
  step();
  const before = tf.memory();
  for (let i = 0; i < 5; i++) step();
  const after = tf.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  tf.dispose([x, w]);
});
