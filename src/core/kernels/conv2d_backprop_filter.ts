/**
 * Conv2DBackpropFilter for the wasm backend, which does not ship one.
 *
 * The filter gradient of y = conv2d(x, W, stride s) is itself a convolution:
 *   dW[kh, kw, c, f] = sum_{n, i, j} xPad[n, i*s + kh, j*s + kw, c] * dy[n, i, j, f]
 * Read x^T = [C, H, W, N] as a batch of C images with N channels and dy^T = [oh, ow, N, F] as
 * a filter: a stride-1 convolution dilated by s gives [C, kh, kw, F], which transposed is dW.
 *
 * Everything runs through the wasm backend's own Transpose, Slice and Conv2D (XNNPACK)
 * kernels on tensors that stay in the wasm heap: no copy through JavaScript.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { WasmScope, type KernelFunc } from './wasm_util.js';

/**
 * Few input channels (the first layer of an image network: C = 1 or 3) make the convolution
 * above a GEMM with only C*kh*kw output rows and a huge packed filter; there, an explicit
 * im2col is faster: patches^T [kh*kw*C, N*oh*ow] (built in one pass over the heap) times
 * dy [N*oh*ow, F] in one BatchMatMul.
 */
const IM2COL_MAX_CHANNELS = 4;

function im2colFilterGrad(x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, scope: WasmScope): tf.TensorInfo {
  const wasm = scope.backend;
  const [N, H, W, C] = x.shape;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow, outChannels: F } = info;
  const { top, left } = info.padInfo;
  const M = N * oh * ow;
  const K = kh * kw * C;
  const patches = wasm.makeOutput([1, K, M], 'float32');
  scope.track(patches);
  const p = wasm.typedArrayFromHeap(patches) as Float32Array;
  const xv = wasm.typedArrayFromHeap(x) as Float32Array;
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      for (let c = 0; c < C; c++) {
        const row = ((a * kw + b) * C + c) * M;
        let m = 0;
        for (let n = 0; n < N; n++) {
          for (let i = 0; i < oh; i++) {
            const y = i * sh + a - top;
            const rowOk = y >= 0 && y < H;
            const base = (n * H + y) * W;
            for (let j = 0; j < ow; j++, m++) {
              const xx = j * sw + b - left;
              p[row + m] = rowOk && xx >= 0 && xx < W ? xv[(base + xx) * C + c] : 0;
            }
          }
        }
      }
    }
  }
  const dy2 = scope.run('Reshape', { x: dy }, { shape: [1, M, F] });
  const prod = scope.run('BatchMatMul', { a: patches, b: dy2 }, { transposeA: false, transposeB: false }); // [1, K, F]
  return scope.run('Reshape', { x: prod }, { shape: [kh, kw, C, F] });
}

export const conv2dBackpropFilterWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as unknown as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`Conv2DBackpropFilter on wasm supports NHWC only, got ${dataFormat}`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode);
  const [, H, W] = x.shape;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  // Extent of the padded input that the forward pass actually read.
  const bottom = (info.outHeight - 1) * sh + kh - top - H;
  const right = (info.outWidth - 1) * sw + kw - left - W;

  const scope = new WasmScope(backend as BackendWasm);
  if (info.inChannels <= IM2COL_MAX_CHANNELS) return scope.finish(im2colFilterGrad(x, dy, info, scope));
  // A negative bottom/right padding means the forward pass never read the last rows/columns.
  const xUsed = bottom < 0 || right < 0
    ? scope.run('Slice', { x }, { begin: [0, 0, 0, 0], size: [-1, H + Math.min(bottom, 0), W + Math.min(right, 0), -1] })
    : x;
  const xT = scope.run('Transpose', { x: xUsed }, { perm: [3, 1, 2, 0] }); // [C, H, W, N]
  const dyT = scope.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [oh, ow, N, F]
  const dwT = scope.run('Conv2D', { x: xT, filter: dyT }, { // [C, kh, kw, F]
    strides: [1, 1], dilations: [sh, sw], dataFormat: 'NHWC',
    pad: [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]],
  });
  return scope.finish(scope.run('Transpose', { x: dwT }, { perm: [1, 2, 0, 3] })); // [kh, kw, C, F]
};

export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilterWasm,
};
