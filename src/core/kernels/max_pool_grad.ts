/**
 * MaxPoolGrad for the wasm backend: the backend's own kernel recomputes every window's argmax
 * per input pixel; this one scans each window once and routes dy to its first maximum
 * (the same tie rule as the tfjs cpu backend), in JavaScript over views of the wasm heap.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelFunc } from './wasm_util.js';

export const maxPoolGradWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { dy, input } = inputs as unknown as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const out = wasm.makeOutput(input.shape, 'float32');
  const dx = wasm.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  const x = wasm.typedArrayFromHeap(input) as Float32Array;
  const g = wasm.typedArrayFromHeap(dy) as Float32Array;
  const rowStride = W * C;
  const imgStride = H * rowStride;
  let gi = 0;
  for (let b = 0; b < batchSize; b++) {
    const base = b * imgStride;
    for (let oy = 0; oy < OH; oy++) {
      const y0 = oy * sh - top;
      const yMin = Math.max(0, y0);
      const yMax = Math.min(H, y0 + fh);
      for (let ox = 0; ox < OW; ox++) {
        const x0 = ox * sw - left;
        const xMin = Math.max(0, x0);
        const xMax = Math.min(W, x0 + fw);
        for (let c = 0; c < C; c++, gi++) {
          let best = Number.NEGATIVE_INFINITY;
          let pos = -1;
          for (let yy = yMin; yy < yMax; yy++) {
            let idx = base + yy * rowStride + xMin * C + c;
            for (let xx = xMin; xx < xMax; xx++, idx += C) {
              const v = x[idx];
              if (v > best) {
                best = v;
                pos = idx;
              }
            }
          }
          if (pos >= 0) dx[pos] += g[gi];
        }
      }
    }
  }
  return out;
};

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: 'wasm',
  kernelFunc: maxPoolGradWasm,
};
