/**
 * Convolution shapes that the kernel tests (pure wasm in kernels.test.ts, native in
 * native.test.ts) check against the cpu backend: [x shape, filter shape, stride, pad].
 */
import type * as tf from '@tensorflow/tfjs';

export type ConvCase = [number[], number[], number, tf.Conv2DBackpropFilterAttrs['pad']];

export const CONV_CASES: ConvCase[] = [
  [[2, 7, 7, 3], [3, 3, 3, 4], 1, 'valid'],
  [[2, 8, 8, 3], [3, 3, 3, 5], 1, 'same'],
  [[3, 9, 9, 2], [3, 3, 2, 4], 2, 'same'],
  [[2, 10, 10, 2], [3, 3, 2, 3], 2, 'valid'], // last row/column never read
  [[1, 11, 9, 4], [5, 5, 4, 2], 3, 'valid'],
  [[2, 12, 12, 3], [7, 7, 3, 4], 2, 3 as never], // ResNet stem: 7x7, stride 2, pad 3
  [[2, 9, 9, 3], [3, 3, 3, 2], 1, [[0, 0], [1, 2], [2, 0], [0, 0]] as never], // explicit, asymmetric
  [[2, 8, 8, 4], [1, 1, 4, 6], 2, 'valid'], // ResNet downsample
];
