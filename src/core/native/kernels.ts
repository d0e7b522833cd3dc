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
import { RELU_GRAD } from '../kernels/relu_grad.js';

type KernelFunc = tf.KernelConfig['kernelFunc'];

/** What computes a native kernel: a oneDNN primitive, a plain C++ loop, or dnnkit's fused LSTM. */
export type NativeKind = 'onednn' | 'cpp' | 'fused';
/** A kernel config tagged with what computes it (reported by `dnnkit info`). */
export type NativeKernelConfig = tf.KernelConfig & { kind: NativeKind };
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

/**
 * How an operand of a broadcasting binary op repeats over the output `out`: 0 when it has the
 * output's size (then, broadcasting being what it is, the same elements in the same order); its
 * size k when its shape, leading 1s dropped, is the output's last axes (it repeats every k
 * elements: 1 for a scalar, C for a bias of C); undefined for any other broadcast.
 */
export function binaryPeriod(shape: readonly number[], out: readonly number[]): number | undefined {
  const k = size(shape);
  if (k === size(out)) return 0;
  const first = shape.findIndex((d) => d !== 1);
  const core = first < 0 ? [] : shape.slice(first);
  return core.length <= out.length && tf.util.arraysEqual(core, out.slice(out.length - core.length)) ? k : undefined;
}

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

export function makeNativeKernels(addon: NativeAddon): NativeKernelConfig[] {
  const convForward = (fused: boolean) => nativeKernel(fused ? 'FusedConv2D' : 'Conv2D', ({ inputs, backend, attrs }, made) => {
    const { x, filter, bias, preluActivationWeights } = inputs as Record<string, Info | undefined>;
    const a = attrs as unknown as tf.FusedConv2DAttrs;
    const act = fused ? activationCode(a.activation) : 0;
    if (!x || !filter || act === undefined || preluActivationWeights !== undefined) return undefined;
    if (!allFloat(x, filter, bias) || x.shape.length !== 4 || filter.shape.length !== 4) return undefined;
    if (!nhwc(a.dataFormat) || !noDilation(a.dilations)) return undefined;
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number], a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    // A per-channel bias only ([F], or [..., F] with ones before): other shapes broadcast differently.
    if (bias && (size(bias.shape) !== info.outChannels || bias.shape[bias.shape.length - 1] !== info.outChannels)) return undefined;
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

  const onednn = (kernelName: string, kernelFunc: KernelFunc): NativeKernelConfig => ({ kernelName, backendName: 'wasm', kernelFunc, kind: 'onednn' });
  const cpp = (kernelName: string, kernelFunc: KernelFunc): NativeKernelConfig => ({ kernelName, backendName: 'wasm', kernelFunc, kind: 'cpp' });
  return [
    onednn('Conv2D', convForward(false)),
    onednn('FusedConv2D', convForward(true)),
    onednn('Conv2DBackpropInput', backpropInput),
    onednn('Conv2DBackpropFilter', backpropFilter),
    onednn('BatchMatMul', matMul(false)),
    onednn('_FusedMatMul', matMul(true)),
    cpp('Relu', relu),
    cpp('FusedBatchNorm', batchNorm),
    cpp('MaxPoolGrad', maxPoolGrad),
    cpp('Sum', sum),
  ];
}

/** Element-wise kernels run natively from this many elements on (smaller ones stay on wasm). */
export const ELEMENTWISE_MIN = 4096;

/** The fused LSTM kernels (native/src/lstm.cc): no tfjs equivalent, so no fallback kernel. */
export const LSTM_SEQ = 'DnnkitLstmSeq';
export const LSTM_SEQ_GRAD = 'DnnkitLstmSeqGrad';

/**
 * DnnkitLstmSeq: inputs x [time, batch, in], kernel [in, 4u], recurrentKernel [u, 4u], bias [4u],
 * attr reverse; outputs h, c [time, batch, u] and the activated gates [time, batch, 4u].
 * DnnkitLstmSeqGrad: inputs dy, x, kernel, recurrentKernel, h, c, gates, attr reverse; outputs
 * dx, dkernel, drecurrentKernel, dbias. Callers (src/sst2/lstm_cell.ts) check shapes and dtypes;
 * an error here is thrown (there is nothing to fall back to at this level).
 */
/**
 * Allocates outputs of the given shapes on the wasm heap; if one allocation fails (the heap cannot
 * grow), frees the ones already made before rethrowing, so that nothing leaks.
 */
function allocOutputs(wasm: BackendWasm, shapes: number[][]): Info[] {
  const outs: Info[] = [];
  try {
    for (const s of shapes) outs.push(wasm.makeOutput(s, 'float32'));
  } catch (err) {
    for (const t of outs) wasm.disposeData(t.dataId);
    throw err;
  }
  return outs;
}

export function makeLstmKernels(addon: NativeAddon): NativeKernelConfig[] {
  const shapeOf = (x: Info, wh: Info, reverse: unknown) => {
    const [time, batch, inDim] = x.shape;
    const units = wh.shape[0];
    return Int32Array.from([time, batch, inDim, units, reverse ? 1 : 0]);
  };
  const check = (name: string, ts: Info[]) => {
    if (!allFloat(...ts)) throw new Error(`${name}: float32 inputs of non-zero size expected`);
  };
  const forward: KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, kernel, recurrentKernel, bias } = inputs as Record<string, Info>;
    check(LSTM_SEQ, [x, kernel, recurrentKernel, bias]);
    const [time, batch] = x.shape;
    const units = recurrentKernel.shape[0];
    const wasm = backend as BackendWasm;
    const [h, c, gates] = allocOutputs(wasm, [[time, batch, units], [time, batch, units], [time, batch, 4 * units]]);
    try {
      // Views after all allocations (an allocation may grow the heap and detach older views).
      addon.lstmSeq(f32(wasm, x), f32(wasm, kernel), f32(wasm, recurrentKernel), f32(wasm, bias), f32(wasm, h),
        f32(wasm, c), f32(wasm, gates), shapeOf(x, recurrentKernel, (attrs as { reverse?: boolean }).reverse));
    } catch (err) {
      for (const t of [h, c, gates]) wasm.disposeData(t.dataId);
      throw err;
    }
    count(LSTM_SEQ, true);
    return [h, c, gates];
  };
  const backward: KernelFunc = ({ inputs, backend, attrs }) => {
    const { dy, x, kernel, recurrentKernel, h, c, gates } = inputs as Record<string, Info>;
    check(LSTM_SEQ_GRAD, [dy, x, kernel, recurrentKernel, h, c, gates]);
    const wasm = backend as BackendWasm;
    const outs = allocOutputs(wasm, [x.shape, kernel.shape, recurrentKernel.shape, [kernel.shape[1]]] as number[][]);
    try {
      addon.lstmSeqGrad(f32(wasm, dy), f32(wasm, x), f32(wasm, kernel), f32(wasm, recurrentKernel), f32(wasm, h),
        f32(wasm, c), f32(wasm, gates), ...outs.map((t) => f32(wasm, t)) as [Float32Array, Float32Array, Float32Array, Float32Array],
        shapeOf(x, recurrentKernel, (attrs as { reverse?: boolean }).reverse));
    } catch (err) {
      for (const t of outs) wasm.disposeData(t.dataId);
      throw err;
    }
    count(LSTM_SEQ_GRAD, true);
    return outs;
  };
  return [
    { kernelName: LSTM_SEQ, backendName: 'wasm', kernelFunc: forward, kind: 'fused' },
    { kernelName: LSTM_SEQ_GRAD, backendName: 'wasm', kernelFunc: backward, kind: 'fused' },
  ];
}

/** One dense Adam step (core/optim.ts): inputs value, m, v, g; attr hyper (8 numbers, see addon.ts); outputs value', m', v'. */
export const ADAM_STEP = 'DnnkitAdamStep';

export function makeAdamKernel(addon: NativeAddon): NativeKernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
    const { value, m, v, g } = inputs as Record<string, Info>;
    const n = size(value.shape);
    if (![value, m, v, g].every((t) => t.dtype === 'float32' && size(t.shape) === n) || n === 0) {
      throw new Error(`${ADAM_STEP}: float32 value, moments and gradient of one size expected`);
    }
    const hyper = (attrs as { hyper: number[] }).hyper;
    const wasm = backend as BackendWasm;
    const outs = allocOutputs(wasm, [value.shape, value.shape, value.shape] as number[][]);
    try {
      addon.adamStep(f32(wasm, value), f32(wasm, m), f32(wasm, v), f32(wasm, g), f32(wasm, outs[0]), f32(wasm, outs[1]),
        f32(wasm, outs[2]), Float64Array.from(hyper));
    } catch (err) {
      for (const t of outs) wasm.disposeData(t.dataId);
      throw err;
    }
    count(ADAM_STEP, true);
    return outs;
  };
  return { kernelName: ADAM_STEP, backendName: 'wasm', kernelFunc, kind: 'fused' };
}

/**
 * Kernels beyond the oneDNN set that are registered with the addon (they replace the wasm
 * kernel, which stays the fallback): GatherV2 on axis 0 (embedding lookups) as row copies (C++ memcpy
 * on the heap), faster than tfjs's wasm GatherV2 on an SST-2 batch's 3,200 x 128 lookup.
 * And float32 Add, Sub, Multiply, RealDiv (equal shapes or one size-1 operand), Sqrt, Square on
 * tensors of at least ELEMENTWISE_MIN elements as C++ loops (Adam's updates of the embedding
 * matrix); IEEE float32 either way, so the same values. UnsortedSegmentSum (float32, int32 ids;
 * the embedding gradient) in C++ with the same additions in the same order as dnnkit's JS kernel.
 * Transpose with the identity permutation (twice in tfjs's Gather gradient) shares the input's
 * data as wasm's Reshape does, instead of copying it. Equal on float32 with any broadcast (the
 * gradient of max-pooling over time, slow on wasm) in C++.
 */
export function makeExtraKernels(addon: NativeAddon): NativeKernelConfig[] {
  const gather = nativeKernel('GatherV2', ({ inputs, backend, attrs }, made) => {
    const { x, indices } = inputs as Record<string, Info | undefined>;
    const a = attrs as unknown as tf.GatherV2Attrs;
    if (!x || !indices || x.dtype !== 'float32' || indices.dtype !== 'int32' || x.shape.length < 1) return undefined;
    if ((a.batchDims ?? 0) !== 0 || tf.util.parseAxisParam(a.axis, x.shape)[0] !== 0) return undefined;
    const rows = x.shape[0];
    const slice = size(x.shape.slice(1));
    const n = size(indices.shape);
    if (slice === 0 || n === 0) return undefined;
    const wasm = backend as BackendWasm;
    const idx = wasm.typedArrayFromHeap(indices) as Int32Array;
    for (let i = 0; i < n; i++) if (!(idx[i] >= 0 && idx[i] < rows)) return undefined; // the fallback throws
    const y = wasm.makeOutput([...indices.shape, ...x.shape.slice(1)], 'float32');
    made.push(y);
    // Views after the allocation.
    addon.gatherRows(f32(wasm, x), wasm.typedArrayFromHeap(indices) as Int32Array, f32(wasm, y), Int32Array.from([rows, slice]));
    return y;
  });
  const binary = (name: string, op: number) => nativeKernel(name, ({ inputs, backend }, made) => {
    const { a, b } = inputs as Record<string, Info | undefined>;
    if (!a || !b || a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
    const na = size(a.shape);
    const nb = size(b.shape);
    if (Math.max(na, nb) < ELEMENTWISE_MIN) return undefined;
    const outShape = tf.util.arraysEqual(a.shape, b.shape) ? a.shape : tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const ka = binaryPeriod(a.shape, outShape);
    const kb = binaryPeriod(b.shape, outShape);
    // One operand whole and the other whole, a scalar or a repeated trailing run (a bias); other
    // broadcasts go to the wasm kernel.
    if (ka === undefined || kb === undefined || (ka !== 0 && kb !== 0)) return undefined;
    const wasm = backend as BackendWasm;
    const y = wasm.makeOutput(outShape, 'float32');
    made.push(y);
    addon.binary(f32(wasm, a), f32(wasm, b), f32(wasm, y), Int32Array.from([op, ka, kb]));
    return y;
  });
  const unary = (name: string, op: number) => nativeKernel(name, ({ inputs, backend }, made) => {
    const { x } = inputs as Record<string, Info | undefined>;
    if (!x || x.dtype !== 'float32' || size(x.shape) < ELEMENTWISE_MIN) return undefined;
    const wasm = backend as BackendWasm;
    const y = wasm.makeOutput(x.shape as number[], 'float32');
    made.push(y);
    addon.unary(f32(wasm, x), f32(wasm, y), Int32Array.from([op]));
    return y;
  });
  const segmentSum = nativeKernel('UnsortedSegmentSum', ({ inputs, backend, attrs }, made) => {
    const { x, segmentIds } = inputs as Record<string, Info | undefined>;
    const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
    if (!x || !segmentIds || x.dtype !== 'float32' || segmentIds.dtype !== 'int32') return undefined;
    const n = size(segmentIds.shape);
    const rest = x.shape.slice(segmentIds.shape.length);
    if (!tf.util.arraysEqual(x.shape.slice(0, segmentIds.shape.length), segmentIds.shape)) return undefined;
    const inner = size(rest);
    if (n === 0 || inner === 0 || !(numSegments > 0)) return undefined;
    const wasm = backend as BackendWasm;
    const y = wasm.makeOutput([numSegments, ...rest], 'float32');
    made.push(y);
    addon.segmentSum(f32(wasm, x), wasm.typedArrayFromHeap(segmentIds) as Int32Array, f32(wasm, y), Int32Array.from([numSegments, inner]));
    return y;
  });
  const transpose = nativeKernel('Transpose', ({ inputs, backend, attrs }) => {
    const { x } = inputs as Record<string, Info | undefined>;
    const { perm } = attrs as unknown as tf.TransposeAttrs;
    if (!x || x.dtype === 'string' || !perm.every((p, i) => p === i) || perm.length !== x.shape.length) return undefined;
    (backend as BackendWasm).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  });
  const equal = nativeKernel('Equal', ({ inputs, backend }, made) => {
    const { a, b } = inputs as Record<string, Info | undefined>;
    if (!a || !b || a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (size(outShape) === 0) return undefined;
    const rank = Math.max(outShape.length, 1);
    const shape = outShape.length ? outShape : [1];
    // Strides of an operand over the output's axes (right-aligned), 0 where it is broadcast.
    const strides = (s: number[]) => {
      const padded = [...Array(rank - s.length).fill(1), ...s];
      const out = new Array<number>(rank).fill(0);
      let st = 1;
      for (let d = rank - 1; d >= 0; d--) {
        out[d] = padded[d] === 1 ? 0 : st;
        st *= padded[d];
      }
      return out;
    };
    const wasm = backend as BackendWasm;
    const y = wasm.makeOutput(outShape, 'bool');
    made.push(y);
    addon.equal(f32(wasm, a), f32(wasm, b), wasm.typedArrayFromHeap(y) as Uint8Array,
      Int32Array.from([rank, ...shape, ...strides(a.shape), ...strides(b.shape)]));
    return y;
  });
  // Slice of float32 as memcpy of contiguous runs (tfjs's wasm Slice copies the innermost axis's
  // runs from JavaScript: 0.1-0.2 s for the padding gradients of one 16-image ResNet-18 batch).
  const slice = nativeKernel('Slice', ({ inputs, backend, attrs }, made) => {
    const { x } = inputs as Record<string, Info | undefined>;
    const a = attrs as unknown as tf.SliceAttrs;
    if (!x || x.dtype !== 'float32' || x.shape.length < 1 || x.shape.length > 8) return undefined;
    const [begin, sz] = tf.slice_util.parseSliceParams(x, a.begin, a.size);
    if (size(sz) < ELEMENTWISE_MIN) return undefined;
    const wasm = backend as BackendWasm;
    const y = wasm.makeOutput(sz, 'float32');
    made.push(y);
    addon.slice(f32(wasm, x), f32(wasm, y), Int32Array.from([x.shape.length, ...x.shape, ...begin, ...sz]));
    return y;
  });
  // Relu's gradient (src/core/kernels/relu_grad.ts) in C++, on oneDNN's threads when large.
  const reluGrad = nativeKernel(RELU_GRAD, ({ inputs, backend }, made) => {
    const { dy, x } = inputs as Record<string, Info | undefined>;
    if (!dy || !x || dy.dtype !== 'float32' || x.dtype !== 'float32' || !tf.util.arraysEqual(dy.shape, x.shape)) return undefined;
    if (size(x.shape) < ELEMENTWISE_MIN) return undefined;
    const wasm = backend as BackendWasm;
    const dx = wasm.makeOutput(x.shape as number[], 'float32');
    made.push(dx);
    addon.reluGrad(f32(wasm, dy), f32(wasm, x), f32(wasm, dx));
    return dx;
  });
  const config = (kernelName: string, kernelFunc: KernelFunc): NativeKernelConfig => ({ kernelName, backendName: 'wasm', kernelFunc, kind: 'cpp' });
  return [
    config('Slice', slice),
    config(RELU_GRAD, reluGrad),
    config('GatherV2', gather),
    config('Equal', equal),
    config('UnsortedSegmentSum', segmentSum),
    config('Transpose', transpose),
    config('Add', binary('Add', 0)),
    config('Sub', binary('Sub', 1)),
    config('Multiply', binary('Multiply', 2)),
    config('RealDiv', binary('RealDiv', 3)),
    config('Sqrt', unary('Sqrt', 0)),
    config('Square', unary('Square', 1)),
  ];
}
