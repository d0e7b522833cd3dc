/**
 * Small builders shared by the torchvision architectures: PyTorch-style padded convolutions and
 * pools in tfjs (NHWC). PyTorch pads symmetrically (`padding=p` adds p rows/cols on every side);
 * TF's 'same' pads asymmetrically for stride 2, so every padded op here is an explicit
 * ZeroPadding2D followed by a 'valid' op, which reproduces PyTorch's output exactly.
 */
import * as tf from '@tensorflow/tfjs';

export interface BuildOptions {
  /**
   * Initialise weights with zeros instead of the default random initialisers. Use it when the
   * weights are loaded right after building (converter, loading a checkpoint): much faster.
   */
  zeroInit?: boolean;
}

/** Kernel/bias initialiser settings for a layer config. */
export function initConfig(opts: BuildOptions): { kernelInitializer?: 'zeros' } {
  return opts.zeroInit ? { kernelInitializer: 'zeros' } : {};
}

/**
 * PyTorch `nn.Conv2d(cin, filters, k, stride, padding=pad)` as [ZeroPadding2D] + Conv2D 'valid'.
 * The conv layer is named `name` (the state_dict prefix); the padding layer `${name}.pad`.
 */
export function torchConv2d(x: tf.SymbolicTensor, name: string, filters: number, kernel: number, stride: number, pad: number,
  useBias: boolean, opts: BuildOptions): tf.SymbolicTensor {
  let y = x;
  if (pad > 0) y = tf.layers.zeroPadding2d({ padding: [[pad, pad], [pad, pad]], name: `${name}.pad` }).apply(y) as tf.SymbolicTensor;
  return tf.layers.conv2d({
    filters, kernelSize: kernel, strides: stride, padding: 'valid', useBias, name, ...initConfig(opts),
  }).apply(y) as tf.SymbolicTensor;
}

/** PyTorch `nn.BatchNorm2d` in eval mode (running statistics), eps 1e-5. */
export function torchBatchNorm(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  return tf.layers.batchNormalization({ axis: -1, epsilon: 1e-5, momentum: 0.9, name }).apply(x) as tf.SymbolicTensor;
}

export function relu(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  return tf.layers.reLU({ name }).apply(x) as tf.SymbolicTensor;
}

/**
 * PyTorch `nn.MaxPool2d(k, stride, padding=pad)`. PyTorch pads max-pool with -Infinity; callers use
 * this only on ReLU outputs (>= 0), where zero padding gives the same maximum.
 */
export function torchMaxPoolAfterRelu(x: tf.SymbolicTensor, name: string, kernel: number, stride: number, pad: number): tf.SymbolicTensor {
  let y = x;
  if (pad > 0) y = tf.layers.zeroPadding2d({ padding: [[pad, pad], [pad, pad]], name: `${name}.pad` }).apply(y) as tf.SymbolicTensor;
  return tf.layers.maxPooling2d({ poolSize: kernel, strides: stride, padding: 'valid', name }).apply(y) as tf.SymbolicTensor;
}

/** PyTorch `nn.Linear(in, units)` on a flat input. */
export function torchLinear(x: tf.SymbolicTensor, name: string, units: number, opts: BuildOptions): tf.SymbolicTensor {
  return tf.layers.dense({ units, name, ...initConfig(opts) }).apply(x) as tf.SymbolicTensor;
}
