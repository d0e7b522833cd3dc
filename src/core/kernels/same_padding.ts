/**
 * Conv2D, FusedConv2D, DepthwiseConv2dNative and FusedDepthwiseConv2D for the wasm backend with
 * 'same' padding passed as the explicit padding it stands for.
 *
 * tfjs-backend-wasm 4.22 hands 'same' to XNNPACK as its TensorFlow-SAME flag, and the results are
 * wrong for some strided shapes: a 1x2, 2x1, 1x3 or 3x1 filter with stride 2 or 3, a 2x2 or 2x3
 * filter with stride 3 (max error 0.5 to 22 against the cpu backend; 52 of 216 probed shapes of
 * Conv2D and of DepthwiseConv2dNative, 49 of FusedConv2D). The same convolutions given their
 * padding as numbers (tf's rule: total = max((ceil(in / stride) - 1) * stride + f - in, 0), the
 * smaller half before) are right in every probed shape, so this kernel only rewrites the
 * attribute and calls the backend's own kernel. The depthwise kernels are wrong even with the
 * native addon (it has no depthwise convolution), Conv2D and FusedConv2D where the addon is
 * missing or declines a shape. test/core/kernels.test.ts compares every shape with cpu.
 */
import * as tf from '@tensorflow/tfjs';
import { wasmKernel, type KernelFunc } from './wasm_util.js';

/** The kernels rewritten here, and whether each is depthwise (the filter's last axis is a channel multiplier). */
const KERNELS = { Conv2D: false, FusedConv2D: false, DepthwiseConv2dNative: true, FusedDepthwiseConv2D: true } as const;

/** [[0, 0], [top, bottom], [left, right], [0, 0]]: the padding 'same' means for these shapes. */
export function explicitSamePadding(xShape: readonly number[], filterShape: readonly number[], strides: number | [number, number],
  dilations: number | [number, number], depthwise: boolean): tf.backend_util.ExplicitPadding {
  const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number],
    strides, dilations, 'same', undefined, depthwise, 'channelsLast');
  const { top, bottom, left, right } = info.padInfo;
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}

function samePaddingKernel(name: keyof typeof KERNELS): KernelFunc {
  return (args) => {
    const attrs = args.attrs as unknown as { pad: unknown; strides: number | [number, number]; dilations?: number | [number, number]; dataFormat?: string };
    if (attrs.pad !== 'same' || (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC')) return wasmKernel(name)(args);
    const { x, filter } = args.inputs as unknown as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const pad = explicitSamePadding(x.shape, filter.shape, attrs.strides, attrs.dilations ?? 1, KERNELS[name]);
    return wasmKernel(name)({ ...args, attrs: { ...args.attrs, pad } as unknown as tf.NamedAttrMap });
  };
}

export const samePaddingConfigs: tf.KernelConfig[] = (Object.keys(KERNELS) as (keyof typeof KERNELS)[]).map((kernelName) => ({
  kernelName,
  backendName: 'wasm',
  kernelFunc: samePaddingKernel(kernelName),
}));
