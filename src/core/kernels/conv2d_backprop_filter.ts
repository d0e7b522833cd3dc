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

type KernelFunc = tf.KernelConfig['kernelFunc'];

/** Calls a kernel that the wasm backend registered, bypassing the engine (no tape, no tracking). */
function wasmKernel(name: string): KernelFunc {
  const config = tf.getKernel(name, 'wasm');
  if (config === undefined) throw new Error(`the wasm backend has no ${name} kernel`);
  return config.kernelFunc;
}

export const conv2dBackpropFilterWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
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
  // Rows of the padded input that the forward pass actually read.
  const needH = (info.outHeight - 1) * sh + kh;
  const needW = (info.outWidth - 1) * sw + kw;
  const bottom = needH - top - H;
  const right = needW - left - W;

  const transpose = wasmKernel('Transpose');
  const slice = wasmKernel('Slice');
  const conv2d = wasmKernel('Conv2D');
  const temps: tf.TensorInfo[] = [];
  const keep = (t: tf.TensorInfo | tf.TensorInfo[]): tf.TensorInfo => {
    const info1 = Array.isArray(t) ? t[0] : t;
    temps.push(info1);
    return info1;
  };

  // A negative bottom/right padding means the forward pass never read the last rows/columns.
  let xUsed = x;
  if (bottom < 0 || right < 0) {
    xUsed = keep(slice({
      inputs: { x }, backend,
      attrs: { begin: [0, 0, 0, 0], size: [-1, H + Math.min(bottom, 0), W + Math.min(right, 0), -1] },
    }) as tf.TensorInfo);
  }
  // [C, H, W, N]: channels become the batch, the batch becomes channels.
  const xT = keep(transpose({ inputs: { x: xUsed }, backend, attrs: { perm: [3, 1, 2, 0] } }) as tf.TensorInfo);
  // [oh, ow, N, F]: the output gradient becomes the filter.
  const dyT = keep(transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } }) as tf.TensorInfo);
  // [C, kh, kw, F]
  const dwT = keep(conv2d({
    inputs: { x: xT, filter: dyT }, backend,
    attrs: {
      strides: [1, 1], dilations: [sh, sw], dataFormat: 'NHWC',
      pad: [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]],
    },
  }) as tf.TensorInfo);
  // [kh, kw, C, F]
  const dw = transpose({ inputs: { x: dwT }, backend, attrs: { perm: [1, 2, 0, 3] } }) as tf.TensorInfo;
  for (const t of temps) wasm.disposeData(t.dataId);
  return dw;
};

export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilterWasm,
};
