/**
 * tfjs kernels for the 'wasm' backend computed by oneDNN (the native addon) directly on the wasm
 * heap: the addon receives Float32Array views of the inputs and of a fresh output, no copies.
 *
 * Each kernel handles float32 NHWC (activations) / HWIO (filters) as tfjs lays them out, strides,
 * and 'valid' / 'same' / explicit padding. Anything else (dilations, NCHW, other dtypes,
 * activations other than linear/relu, broadcasts it does not know), or an error from oneDNN,
 * runs the kernel that was registered before (dnnkit's wasm kernel or tfjs's own).
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { NativeAddon } from './addon.js';

type KernelFunc = tf.KernelConfig['kernelFunc'];
type Info = tf.TensorInfo;
type Conv2DInfo = tf.backend_util.Conv2DInfo;

/** How often each native kernel ran natively and how often it fell back (for tests and profiles). */
export const nativeStats: Record<string, { native: number; fallback: number }> = {};
/** The kernel each native kernel falls back to (captured when registering). */
export const fallbacks = new Map<string, KernelFunc>();

const count = (name: string, native: boolean) => {
  const s = (nativeStats[name] ??= { native: 0, fallback: 0 });
  if (native) s.native++;
  else s.fallback++;
};

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const f32 = (b: BackendWasm, t: Info) => b.typedArrayFromHeap(t) as Float32Array;
const allFloat = (...ts: (Info | undefined)[]) => ts.every((t) => t === undefined || (t.dtype === 'float32' && size(t.shape) > 0));

/**
 * Runs `compute` for kernel `name`: it returns undefined to decline (then the fallback runs), or
 * the output(s) of an addon call. An exception from the addon also falls back, after freeing the
 * outputs made for it.
 */
function nativeKernel(name: string, compute: (args: Parameters<KernelFunc>[0], made: Info[]) => Info | Info[] | undefined): KernelFunc {
  return (args) => {
    const made: Info[] = [];
    let out: Info | Info[] | undefined;
    try {
      out = compute(args, made);
    } catch {
      out = undefined;
    }
    if (out !== undefined) {
      count(name, true);
      return out;
    }
    for (const t of made) (args.backend as BackendWasm).disposeData(t.dataId);
    count(name, false);
    const fallback = fallbacks.get(name);
    if (!fallback) throw new Error(`no fallback for native ${name}`);
    return fallback(args);
  };
}

/** The addon's conv parameter vector for `info`; act 1 = relu. */
function convParams(info: Conv2DInfo, act: number): Int32Array {
  const { batchSize, inHeight, inWidth, inChannels, filterHeight, filterWidth, outChannels, outHeight, outWidth,
    strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { top, left } = info.padInfo;
  // Padding after the input that the convolution actually reads; negative when it never reads
  // the last rows/columns ('valid' with a stride that does not divide the extent).
  const bottom = (outHeight - 1) * strideHeight + (filterHeight - 1) * dilationHeight + 1 - inHeight - top;
  const right = (outWidth - 1) * strideWidth + (filterWidth - 1) * dilationWidth + 1 - inWidth - left;
  return Int32Array.from([batchSize, inHeight, inWidth, inChannels, filterHeight, filterWidth, outChannels, outHeight,
    outWidth, strideHeight, strideWidth, top, left, bottom, right, dilationHeight, dilationWidth, act]);
}

const nhwc = (dataFormat: unknown) => dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
const noDilation = (d: unknown) => d === undefined || d === 1 || (Array.isArray(d) && d.every((v) => v === 1));

function activationCode(activation: unknown): number | undefined {
  if (activation === undefined || activation === null || activation === 'linear') return 0;
  if (activation === 'relu') return 1;
  return undefined;
}

export function makeNativeKernels(addon: NativeAddon): tf.KernelConfig[] {
  const convForward = (fused: boolean) => nativeKernel(fused ? 'FusedConv2D' : 'Conv2D', ({ inputs, backend, attrs }, made) => {
    const { x, filter, bias, preluActivationWeights } = inputs as Record<string, Info | undefined>;
    const a = attrs as unknown as tf.FusedConv2DAttrs;
    const act = fused ? activationCode(a.activation) : 0;
    if (!x || !filter || act === undefined || preluActivationWeights !== undefined) return undefined;
    if (!allFloat(x, filter, bias) || x.shape.length !== 4 || filter.shape.length !== 4) return undefined;
    if (!nhwc(a.dataFormat) || !noDilation(a.dilations)) return undefined;
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number], a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    if (bias && size(bias.shape) !== info.outChannels) return undefined;
    if (size(info.outShape) === 0) return undefined;
    const wasm = backend as BackendWasm;
    const y = wasm.makeOutput(info.outShape, 'float32');
    made.push(y);
    addon.conv2d(f32(wasm, x), f32(wasm, filter), bias ? f32(wasm, bias) : null, f32(wasm, y), convParams(info, act));
    return y;
  });

  const backpropInput = nativeKernel('Conv2DBackpropInput', ({ inputs, backend, attrs }, made) => {
    const { dy, filter } = inputs as Record<string, Info | undefined>;
    const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    if (!dy || !filter || !allFloat(dy, filter) || !nhwc(a.dataFormat) || a.inputShape.length !== 4) return undefined;
    const info = tf.backend_util.computeConv2DInfo(a.inputShape as [number, number, number, number],
      filter.shape as [number, number, number, number], a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    if (!tf.util.arraysEqual(info.outShape, dy.shape) || size(a.inputShape) === 0) return undefined;
    const wasm = backend as BackendWasm;
    const dx = wasm.makeOutput(a.inputShape as number[], 'float32');
    made.push(dx);
    addon.conv2dBackpropInput(f32(wasm, dy), f32(wasm, filter), f32(wasm, dx), convParams(info, 0));
    return dx;
  });

  const backpropFilter = nativeKernel('Conv2DBackpropFilter', ({ inputs, backend, attrs }, made) => {
    const { x, dy } = inputs as Record<string, Info | undefined>;
    const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    if (!x || !dy || !allFloat(x, dy) || !nhwc(a.dataFormat) || x.shape.length !== 4) return undefined;
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number],
      a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    if (!tf.util.arraysEqual(info.outShape, dy.shape)) return undefined;
    const wasm = backend as BackendWasm;
    const dw = wasm.makeOutput(a.filterShape as number[], 'float32');
    made.push(dw);
    addon.conv2dBackpropFilter(f32(wasm, x), f32(wasm, dy), f32(wasm, dw), convParams(info, 0));
    return dw;
  });

  const matMul = (fused: boolean) => nativeKernel(fused ? '_FusedMatMul' : 'BatchMatMul', ({ inputs, backend, attrs }, made) => {
    const { a, b, bias, preluActivationWeights } = inputs as Record<string, Info | undefined>;
    const at = attrs as unknown as { transposeA: boolean; transposeB: boolean; activation?: string };
    const act = fused ? activationCode(at.activation) : 0;
    if (!a || !b || act === undefined || preluActivationWeights !== undefined || !allFloat(a, b, bias)) return undefined;
    // Rank 3 (tfjs's matMul reshapes to it) or rank 2 (dense layers' gradients).
    const rank = a.shape.length;
    if ((rank !== 3 && rank !== 2) || b.shape.length !== rank) return undefined;
    const [bA, a1, a2] = rank === 3 ? a.shape : [1, ...a.shape];
    const [bB, b1, b2] = rank === 3 ? b.shape : [1, ...b.shape];
    const [M, K] = at.transposeA ? [a2, a1] : [a1, a2];
    const [K2, N] = at.transposeB ? [b2, b1] : [b1, b2];
    if (K !== K2 || (bA !== bB && bA !== 1 && bB !== 1)) return undefined;
    if (bias && (size(bias.shape) !== N || bias.shape[bias.shape.length - 1] !== N)) return undefined;
    const wasm = backend as BackendWasm;
    const c = wasm.makeOutput(rank === 3 ? [Math.max(bA, bB), M, N] : [M, N], 'float32');
    made.push(c);
    addon.matmul(f32(wasm, a), f32(wasm, b), bias ? f32(wasm, bias) : null, f32(wasm, c),
      Int32Array.from([bA, bB, M, K, N, at.transposeA ? 1 : 0, at.transposeB ? 1 : 0, act]));
    return c;
  });

  const relu = nativeKernel('Relu', ({ inputs, backend }, made) => {
    const { x } = inputs as Record<string, Info | undefined>;
    if (!x || !allFloat(x)) return undefined;
    const wasm = backend as BackendWasm;
    const y = wasm.makeOutput(x.shape as number[], 'float32');
    made.push(y);
    addon.relu(f32(wasm, x), f32(wasm, y));
    return y;
  });

  const batchNorm = nativeKernel('FusedBatchNorm', ({ inputs, backend, attrs }, made) => {
    const { x, mean, variance, offset, scale } = inputs as Record<string, Info | undefined>;
    if (!x || !mean || !variance || !allFloat(x, mean, variance, offset, scale) || x.shape.length < 1) return undefined;
    const C = x.shape[x.shape.length - 1];
    const perChannel = (t: Info | undefined) => t === undefined || (size(t.shape) === C && t.shape[t.shape.length - 1] === C);
    if (![mean, variance, offset, scale].every(perChannel)) return undefined;
    const eps = (attrs as unknown as tf.FusedBatchNormAttrs).varianceEpsilon;
    const wasm = backend as BackendWasm;
    const y = wasm.makeOutput(x.shape as number[], 'float32');
    made.push(y);
    addon.batchNorm(f32(wasm, x), f32(wasm, mean), f32(wasm, variance), offset ? f32(wasm, offset) : null,
      scale ? f32(wasm, scale) : null, f32(wasm, y), Int32Array.from([C]), eps ?? 0.001);
    return y;
  });

  const maxPoolGrad = nativeKernel('MaxPoolGrad', ({ inputs, backend, attrs }, made) => {
    const { dy, input } = inputs as Record<string, Info | undefined>;
    const a = attrs as unknown as tf.MaxPoolGradAttrs;
    if (!dy || !input || !allFloat(dy, input) || input.shape.length !== 4) return undefined;
    const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number],
      a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
    if (!tf.util.arraysEqual(info.outShape, dy.shape)) return undefined;
    const wasm = backend as BackendWasm;
    const dx = wasm.makeOutput(input.shape as number[], 'float32');
    made.push(dx);
    addon.maxPoolGrad(f32(wasm, dy), f32(wasm, input), f32(wasm, dx), Int32Array.from([info.batchSize, info.inHeight,
      info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.filterHeight, info.filterWidth,
      info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left]));
    return dx;
  });

  // Sum over leading axes (bias gradients): one pass adding rows. Other reductions fall back.
  const sum = nativeKernel('Sum', ({ inputs, backend, attrs }, made) => {
    const { x } = inputs as Record<string, Info | undefined>;
    const a = attrs as unknown as tf.SumAttrs;
    if (!x || !allFloat(x) || x.shape.length < 2) return undefined;
    const axes = tf.util.parseAxisParam(a.axis, x.shape).slice().sort((p, q) => p - q);
    const k = axes.length;
    if (k === 0 || k >= x.shape.length || !axes.every((v, i) => v === i)) return undefined;
    const rows = size(x.shape.slice(0, k));
    const cols = size(x.shape.slice(k));
    const outShape = a.keepDims ? [...x.shape.slice(0, k).map(() => 1), ...x.shape.slice(k)] : x.shape.slice(k);
    const wasm = backend as BackendWasm;
    const y = wasm.makeOutput(outShape, 'float32');
    made.push(y);
    addon.sumRows(f32(wasm, x), f32(wasm, y), Int32Array.from([rows, cols]));
    return y;
  });

  const config = (kernelName: string, kernelFunc: KernelFunc): tf.KernelConfig => ({ kernelName, backendName: 'wasm', kernelFunc });
  return [
    config('Conv2D', convForward(false)),
    config('FusedConv2D', convForward(true)),
    config('Conv2DBackpropInput', backpropInput),
    config('Conv2DBackpropFilter', backpropFilter),
    config('BatchMatMul', matMul(false)),
    config('_FusedMatMul', matMul(true)),
    config('Relu', relu),
    config('FusedBatchNorm', batchNorm),
    config('MaxPoolGrad', maxPoolGrad),
    config('Sum', sum),
  ];
}
