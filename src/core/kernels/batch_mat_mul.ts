/**
 * BatchMatMul for the wasm backend with transposed operands made explicit. The backend's kernel
 * is fast (XNNPACK-style packing) for a.b but 10-20x slower for a^T.b and a.b^T, which are
 * exactly the two products in a dense layer's gradient. Transposing the operand first (one
 * memory pass) and multiplying untransposed is much faster.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { WasmScope, wasmKernel, type KernelFunc } from './wasm_util.js';

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

export const batchMatMulWasm: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs as unknown as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
  if (!transposeA && !transposeB) return wasmKernel('BatchMatMul')(args);
  const scope = new WasmScope(backend as BackendWasm);
  const aa = transposeA ? scope.run('Transpose', { x: a }, { perm: swapLastTwo(a.shape.length) }) : a;
  const bb = transposeB ? scope.run('Transpose', { x: b }, { perm: swapLastTwo(b.shape.length) }) : b;
  return scope.finish(scope.run('BatchMatMul', { a: aa, b: bb }, { transposeA: false, transposeB: false }));
};

export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  kernelFunc: batchMatMulWasm,
};
