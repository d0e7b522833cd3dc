/**
 * The kernels dnnkit registers for the wasm backend: the gradient kernels that tfjs-backend-wasm
 * 4.22 lacks and that training the MNIST CNN (Conv2DBackpropFilter) and the SST-2 LSTM with an
 * embedding (UnsortedSegmentSum) need. Backprop to activations through ResNet-18 and VGG-16
 * (Grad-CAM) needs Conv2DBackpropInput, MaxPoolGrad and the elementwise kernels, which wasm has.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterConfig } from './conv2d_backprop_filter.js';
import { unsortedSegmentSumConfig } from './unsorted_segment_sum.js';

export const PROJECT_WASM_KERNELS: readonly tf.KernelConfig[] = [
  conv2dBackpropFilterConfig,
  unsortedSegmentSumConfig,
];

/** Registers the project kernels for 'wasm' (idempotent); returns their names. */
export function registerWasmKernels(): string[] {
  for (const config of PROJECT_WASM_KERNELS) {
    if (tf.getKernel(config.kernelName, 'wasm') === undefined) tf.registerKernel(config);
  }
  return PROJECT_WASM_KERNELS.map((k) => k.kernelName);
}
