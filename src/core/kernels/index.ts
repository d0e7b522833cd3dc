/**
 * The kernels dnnkit registers for the wasm backend.
 * - Missing in tfjs-backend-wasm 4.22, needed for training: Conv2DBackpropFilter (every conv
 *   layer), UnsortedSegmentSum (the gradient of an Embedding's Gather); DnnkitReluGrad (ours).
 * - Replacing slow ones: Conv2DBackpropInput (a direct loop in wasm; here XNNPACK convolutions),
 *   MaxPoolGrad (an argmax per input pixel; here one scan per window), BatchMatMul with
 *   transposed operands (10-20x slower than plain; here transpose first) and Sum over leading
 *   axes (bias gradients; here one column-sum pass).
 * - Replacing wrong ones: Conv2D, FusedConv2D and the depthwise convolutions with 'same' padding
 *   (XNNPACK's SAME flag gives wrong results for some strided filters; here explicit padding).
 * - Identity (tf.clone; the tape clones every saved input): shares the memory instead of copying.
 * - Replacing a slow gradient (backend independent, registered with the kernels): FusedBatchNorm's
 *   (fused_batch_norm_grad.ts; tfjs's tiles the scale to the full tensor: 55% of IG's time) and
 *   Relu's (relu_grad.ts: one pass instead of Step, Cast, Multiply; with the kernel DnnkitReluGrad).
 * Backprop to activations through ResNet-18 and VGG-16 (Grad-CAM) needs Conv2DBackpropInput,
 * MaxPoolGrad and elementwise kernels: all present after this.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterConfig } from './conv2d_backprop_filter.js';
import { conv2dBackpropInputConfig } from './conv2d_backprop_input.js';
import { maxPoolGradConfig } from './max_pool_grad.js';
import { batchMatMulConfig } from './batch_mat_mul.js';
import { sumConfig } from './sum.js';
import { unsortedSegmentSumConfig } from './unsorted_segment_sum.js';
import { samePaddingConfigs } from './same_padding.js';
import { rememberOriginal } from './wasm_util.js';
import { fusedBatchNormGradConfig } from './fused_batch_norm_grad.js';
import { identityConfig } from './identity.js';
import { reluGradConfig, reluGradGradConfig, reluGradKernelConfig } from './relu_grad.js';

/** Kernels wasm lacks. */
export const ADDED_WASM_KERNELS: readonly tf.KernelConfig[] = [conv2dBackpropFilterConfig, unsortedSegmentSumConfig, reluGradKernelConfig];
/** Kernels wasm has, replaced by faster ones (the originals stay reachable for fallbacks). */
export const REPLACED_WASM_KERNELS: readonly tf.KernelConfig[] = [
  conv2dBackpropInputConfig, maxPoolGradConfig, batchMatMulConfig, sumConfig, ...samePaddingConfigs, identityConfig,
];

const registered = new Set<string>();

/**
 * Registers the project kernels for 'wasm' (idempotent); returns their names. Call after the
 * wasm backend initialised, so that the originals' setup ran and they can serve as fallbacks.
 */
export function registerWasmKernels(): string[] {
  for (const grad of [fusedBatchNormGradConfig, reluGradConfig, reluGradGradConfig]) tf.registerGradient(grad);
  for (const config of ADDED_WASM_KERNELS) {
    if (!registered.has(config.kernelName) && tf.getKernel(config.kernelName, 'wasm') === undefined) {
      tf.registerKernel(config);
    }
    registered.add(config.kernelName);
  }
  for (const config of REPLACED_WASM_KERNELS) {
    if (registered.has(config.kernelName)) continue;
    rememberOriginal(config.kernelName);
    tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel(config);
    registered.add(config.kernelName);
  }
  return [...ADDED_WASM_KERNELS, ...REPLACED_WASM_KERNELS].map((k) => k.kernelName);
}
