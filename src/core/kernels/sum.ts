/**
 * Sum for the wasm backend, fast path for reducing the leading axes of a float32 tensor (the
 * bias gradient of every conv and dense layer: dy [N, H, W, C] summed to [C]). The backend
 * transposes the reduced axes to the end first; a column sum over the heap view needs one pass.
 * Other reductions go to the backend's own kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmKernel, type KernelFunc } from './wasm_util.js';

export const sumWasm: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { x } = inputs as unknown as { x: tf.TensorInfo };
  const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  const leading = axes.length > 0 && axes.length < rank && axes.every((ax, i) => ax === i);
  if (x.dtype !== 'float32' || !leading) return wasmKernel('Sum')(args);
  const wasm = backend as BackendWasm;
  const rows = x.shape.slice(0, axes.length).reduce((p, q) => p * q, 1);
  const kept = x.shape.slice(axes.length);
  const cols = kept.reduce((p, q) => p * q, 1);
  const outShape = keepDims ? [...axes.map(() => 1), ...kept] : kept;
  const out = wasm.makeOutput(outShape, 'float32');
  const vals = wasm.typedArrayFromHeap(x) as Float32Array;
  const acc = new Float64Array(cols);
  for (let r = 0, off = 0; r < rows; r++, off += cols) {
    for (let c = 0; c < cols; c++) acc[c] += vals[off + c];
  }
  (wasm.typedArrayFromHeap(out) as Float32Array).set(acc);
  return out;
};

export const sumConfig: tf.KernelConfig = {
  kernelName: 'Sum',
  backendName: 'wasm',
  kernelFunc: sumWasm,
};
