/**
 * The gradient of Relu in one pass: dx = x > 0 ? dy : 0.
 *
 * Why: tfjs's Relu gradient is mul(dy, cast(step(x))): three full-size kernels (Step, a Cast that
 * copies, Multiply) per ReLU, ~11% of Integrated Gradients' time on ResNet-18 once the batch-norm
 * and convolution gradients were fixed. Here one JavaScript loop over views of the wasm heap
 * (kernel DnnkitReluGrad); other backends keep tfjs's formula. Same values as that formula: NaN in
 * x gives NaN, as step does; an infinite dy where x <= 0 gives NaN (Infinity * 0).
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export const RELU_GRAD = 'DnnkitReluGrad';

export const reluGradKernelConfig: tf.KernelConfig = {
  kernelName: RELU_GRAD,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const wasm = backend as BackendWasm;
    const { dy, x } = inputs as unknown as { dy: tf.TensorInfo; x: tf.TensorInfo };
    const out = wasm.makeOutput(x.shape, 'float32');
    const g = wasm.typedArrayFromHeap(dy) as Float32Array;
    const v = wasm.typedArrayFromHeap(x) as Float32Array;
    const d = wasm.typedArrayFromHeap(out) as Float32Array;
    // Branch-free in the common case (ReLU inputs' signs are unpredictable: a branch per element
    // mispredicts half the time); dy * 1 or dy * 0 exactly as tfjs's mul(dy, step(x)).
    let nan = false;
    for (let i = 0; i < v.length; i++) {
      const xi = v[i];
      d[i] = g[i] * +(xi > 0);
      nan ||= xi !== xi;
    }
    if (nan) for (let i = 0; i < v.length; i++) if (v[i] !== v[i]) d[i] = NaN;
    return out;
  },
};

/** tfjs's formula (the reference, and the path for other backends and dtypes). */
const stepFormula = (dy: tf.Tensor, x: tf.Tensor) => tf.mul(dy, tf.cast(tf.step(x), 'float32'));

const useKernel = (dy: tf.Tensor, x: tf.Tensor) =>
  tf.getBackend() === 'wasm' && dy.dtype === 'float32' && x.dtype === 'float32' && tf.util.arraysEqual(dy.shape, x.shape);

/** dx of Relu: the one-pass kernel on wasm. */
export function reluBackprop(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return useKernel(dy, x) ? (tf.engine().runKernel(RELU_GRAD, { dy, x }) as tf.Tensor) : stepFormula(dy, x);
}

export const reluGradConfig: tf.GradConfig = {
  kernelName: tf.Relu,
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [x] = saved;
    return { x: () => reluBackprop(dy as tf.Tensor, x) };
  },
};

/** Second order (the kernel is linear in dy, piecewise constant in x). */
export const reluGradGradConfig: tf.GradConfig = {
  kernelName: RELU_GRAD,
  inputsToSave: ['x'],
  gradFunc: (ddx: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [x] = saved;
    return { dy: () => reluBackprop(ddx as tf.Tensor, x), x: () => tf.zerosLike(x) };
  },
};
