/**
 * Identity (tf.clone) for the wasm backend without a copy: the clone shares the input's memory
 * and the backend's reference count keeps it alive until both are disposed, as the tfjs cpu
 * backend and the wasm backend's own Reshape do. Kernels never write into their inputs, so
 * sharing is safe.
 *
 * Why: the gradient tape clones every input a gradient saves (a ReLU's, a convolution's, a batch
 * norm's input): wasm's Identity copies them, ~6% of Integrated Gradients' time on ResNet-18.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmKernel } from './wasm_util.js';

export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  kernelFunc: (args) => {
    const { x } = args.inputs as unknown as { x: tf.TensorInfo };
    if (x.dtype === 'string') return wasmKernel(tf.Identity)(args);
    (args.backend as BackendWasm).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  },
};
