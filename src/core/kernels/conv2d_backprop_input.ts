/**
 * Conv2DBackpropInput for the wasm backend through XNNPACK. The wasm backend's own kernel is a
 * direct loop (the slowest step of CNN training); the input gradient is a convolution too:
 *   dx = conv2d(dilate_s(dy), rot180(W)^T) with "full" padding,
 * where dilate_s inserts s-1 zeros between output pixels (stride s) and rot180(W)^T is the
 * filter flipped in space with its in/out channels swapped: [kh, kw, F, C].
 * Runs on the wasm heap with the backend's Reverse, Transpose, PadV2, Reshape, Slice and
 * Conv2D kernels; falls back to the original kernel for dilated convolutions.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { WasmScope, wasmKernel, type KernelFunc } from './wasm_util.js';

export const conv2dBackpropInputWasm: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as unknown as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (dataFormat !== undefined && dataFormat !== 'NHWC') return wasmKernel('Conv2DBackpropInput')(args);
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode);
  const [N, H, W] = inputShape;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow, outChannels: F } = info;
  const { top, left } = info.padInfo;
  // Full-correlation padding so that the output is H x W.
  const dilH = (oh - 1) * sh + 1;
  const dilW = (ow - 1) * sw + 1;
  const padT = kh - 1 - top;
  const padL = kw - 1 - left;
  const padB = H - dilH - padT + kh - 1;
  const padR = W - dilW - padL + kw - 1;
  if (padT < 0 || padL < 0 || padB < 0 || padR < 0) return wasmKernel('Conv2DBackpropInput')(args);

  const scope = new WasmScope(backend as BackendWasm);
  let dyD = dy;
  if (sh > 1 || sw > 1) {
    // Insert zeros between rows/columns: [N, oh, 1, ow, 1, F] padded to [N, oh, sh, ow, sw, F].
    const r = scope.run('Reshape', { x: dy }, { shape: [N, oh, 1, ow, 1, F] });
    const p = scope.run('PadV2', { x: r }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
    const full = scope.run('Reshape', { x: p }, { shape: [N, oh * sh, ow * sw, F] });
    dyD = scope.run('Slice', { x: full }, { begin: [0, 0, 0, 0], size: [N, dilH, dilW, F] });
  }
  const flipped = scope.run('Reverse', { x: filter }, { dims: [0, 1] }); // [kh, kw, C, F]
  const wT = scope.run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] }); // [kh, kw, F, C]
  const dx = scope.run('Conv2D', { x: dyD, filter: wT }, {
    strides: [1, 1], dilations: [1, 1], dataFormat: 'NHWC',
    pad: [[0, 0], [padT, padB], [padL, padR], [0, 0]],
  });
  return scope.finish(dx);
};

export const conv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: conv2dBackpropInputWasm,
};
