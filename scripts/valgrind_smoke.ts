/**
 * `npm run test:valgrind`: every entry point of the native addon once, on small shapes, checked
 * against the tfjs cpu backend, in a process that scripts/test_valgrind.ts runs under valgrind's
 * memcheck (an invalid read or write anywhere in the process fails it).
 *
 * oneDNN runs with ONEDNN_MAX_CPU_ISA=SSE41 there: its AVX2/AVX-512 generated GEMM kernels point
 * rsp into a heap buffer while they run (docs/NATIVE_SAFETY.md), which memcheck takes for a stack
 * switch; it then reports that buffer's use as invalid and aborts. The SSE4.1 kernels keep rsp.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/core/backend.js';
import { LSTM_SEQ, LSTM_SEQ_GRAD, nativeStats } from '../src/core/native/index.js';
import { TableAdam } from '../src/core/table_adam.js';
import { subwordBag, subwordBagGrad } from '../src/sst2/subword_bag.js';

type Case = [string, () => tf.Tensor | tf.Tensor[]];

const r = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

const CASES: Case[] = [
  ['Conv2D / FusedConv2D', () => tf.relu(tf.conv2d(r([2, 9, 9, 8], 1) as tf.Tensor4D, r([3, 3, 8, 16], 2) as tf.Tensor4D, 1, 'same'))],
  ['Conv2DBackpropInput', () => tf.grad((x: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, r([3, 3, 8, 16], 2) as tf.Tensor4D, 2, 'valid').sum())(r([2, 9, 9, 8], 1))],
  ['Conv2DBackpropFilter', () => tf.grad((w: tf.Tensor) => tf.conv2d(r([2, 9, 9, 8], 1) as tf.Tensor4D, w as tf.Tensor4D, 1, 'same').sum())(r([3, 3, 8, 16], 2))],
  ['BatchMatMul', () => tf.matMul(r([3, 17, 5], 3), r([3, 5, 9], 4))],
  ['_FusedMatMul', () => tf.fused.matMul({ a: r([6, 40], 5) as tf.Tensor2D, b: r([40, 12], 6) as tf.Tensor2D, bias: r([12], 7), activation: 'relu' })],
  ['FusedBatchNorm', () => tf.batchNorm(r([2, 5, 5, 16], 8) as tf.Tensor4D, r([16], 9) as tf.Tensor1D, tf.abs(r([16], 10)).add(0.1) as tf.Tensor1D, r([16], 11) as tf.Tensor1D, r([16], 12) as tf.Tensor1D, 1e-3)],
  ['MaxPoolGrad', () => tf.grad((x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid').sum())(r([2, 8, 8, 4], 13))],
  ['Sum', () => tf.sum(r([64, 33], 14), 0)],
  ['GatherV2 / UnsortedSegmentSum', () => tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d([3, 0, 3, 7], 'int32')).sum())(r([8, 6], 15))],
  ['Add / Multiply / Sqrt / Square (large)', () => tf.sqrt(tf.square(r([5000], 16)).mul(r([5000], 17).abs()).add(1))],
  ['Add / Sub (large, a bias of 40 on either side)', () => [tf.add(r([125, 40], 32), r([40], 33)), tf.sub(r([1, 40], 34), r([125, 40], 35))]],
  ['Slice (large)', () => tf.slice(r([3, 40, 40, 3], 29), [0, 3, 3, 0], [3, 34, 34, 3])],
  ['DnnkitReluGrad (large)', () => tf.grad((x: tf.Tensor) => tf.relu(x).mul(r([5000], 31)).sum())(r([5000], 30))],
  ['Equal (broadcast)', () => tf.equal(tf.round(r([4, 3, 5], 18)), tf.round(r([1, 3, 5], 19)))],
  ['DnnkitSubwordBag / Grad (bagScatter)', () => {
    const [ids, positions, weights] = [tf.tensor1d([4, 0, 4, 2, 1], 'int32'), tf.tensor1d([0, 0, 1, 2, 2], 'int32'), tf.tensor1d([0.5, 0.5, 1, 0.25, 0.75])];
    return [subwordBag(r([5, 6], 24) as tf.Tensor2D, ids, positions, weights, 3), subwordBagGrad(r([3, 6], 25) as tf.Tensor2D, ids, positions, weights, 5)];
  }],
  ['TableAdam (tableAdam)', () => {
    const table = tf.variable(r([6, 5], 26));
    const adam = new TableAdam([table], 0.01);
    adam.step([{ variable: table, rows: Int32Array.from([4, 1]), grad: r([2, 5], 27).dataSync() as Float32Array, scale: 0.5 }]);
    adam.step([{ variable: table, rows: Int32Array.from([1]), grad: r([1, 5], 28).dataSync() as Float32Array }]);
    adam.step([]);
    return table;
  }],
  ['DnnkitLstmSeq / DnnkitLstmSeqGrad', () => {
    const [T, B, I, U] = [6, 3, 5, 4];
    const x = r([T, B, I], 20);
    const wx = r([I, 4 * U], 21);
    const wh = r([U, 4 * U], 22);
    const b = r([4 * U], 23);
    const [h, c, gates] = tf.engine().runKernel(LSTM_SEQ, { x, kernel: wx, recurrentKernel: wh, bias: b }, { reverse: false }) as tf.Tensor[];
    const grads = tf.engine().runKernel(LSTM_SEQ_GRAD, { dy: tf.onesLike(h), x, kernel: wx, recurrentKernel: wh, h, c, gates }, { reverse: false }) as tf.Tensor[];
    return [h, ...grads];
  }],
];

async function main(): Promise<void> {
  await initBackend('wasm');
  let failures = 0;
  for (const [name, f] of CASES) {
    await tf.setBackend('wasm');
    const nat = [f()].flat().map((t) => t.dataSync().slice());
    const skipCpu = name.startsWith('DnnkitLstm'); // no cpu kernel: the native one against itself twice
    if (!skipCpu) await tf.setBackend('cpu');
    const ref = [f()].flat().map((t) => t.dataSync().slice());
    let diff = 0;
    nat.forEach((v, k) => v.forEach((e, j) => { diff = Math.max(diff, Math.abs(Number(e) - Number(ref[k][j]))); }));
    const ok = diff <= 1e-3;
    if (!ok) failures++;
    process.stdout.write(`${ok ? 'ok' : 'FAIL'}  ${name}: max |native - cpu| = ${diff.toExponential(2)}\n`);
  }
  const nativeRuns = Object.values(nativeStats).reduce((a, s) => a + s.native, 0);
  process.stdout.write(`native kernel calls: ${nativeRuns}\n`);
  if (nativeRuns < CASES.length) failures++;
  process.exit(failures === 0 ? 0 : 1);
}

await main();
