/**
 * VGG-16 without batch norm (Simonyan & Zisserman 2015, "Very Deep Convolutional Networks for
 * Large-Scale Image Recognition", configuration D), exactly as torchvision.models.vgg16 defines it,
 * in tfjs layers (NHWC, input [batch, 224, 224, 3], output [batch, 1000] logits).
 *
 * Every layer is named after its torchvision module: `features.0` ... `features.30` (conv, ReLU and
 * max-pool keep torchvision's indices: convs at 0,2,5,7,10,12,14,17,19,21,24,26,28; pools at
 * 4,9,16,23,30), `classifier.0` ... `classifier.6` (Linear 0,3,6; ReLU 1,4; Dropout 2,5).
 * torchvision's AdaptiveAvgPool2d((7,7)) is the identity for 224x224 inputs and is omitted.
 * `flatten` flattens NHWC (h, w, c) order whereas PyTorch flattens (c, h, w): the converter
 * permutes the rows of `classifier.0`'s weight accordingly (see convert.ts).
 * Grad-CAM's usual target is `features.29` (ReLU after the last conv), [batch, 14, 14, 512].
 */
import * as tf from '@tensorflow/tfjs';
import { type BuildOptions, relu, torchConv2d, torchLinear } from './layers_util.js';

export const VGG16_INPUT: [number, number, number] = [224, 224, 3];
/** ReLU after the last convolution: [batch, 14, 14, 512]. */
export const VGG16_LAST_CONV_ACTIVATION = 'features.29';

/** torchvision cfg 'D': channel counts, 'M' = 2x2 max-pool. */
const CFG_D: Array<number | 'M'> = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];

/** Builds torchvision's VGG-16 (1000 classes, logits). */
export function buildVgg16(opts: BuildOptions = {}): tf.LayersModel {
  const input = tf.input({ shape: VGG16_INPUT, name: 'input' });
  let x: tf.SymbolicTensor = input;
  let index = 0;
  for (const v of CFG_D) {
    if (v === 'M') {
      x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'valid', name: `features.${index}` }).apply(x) as tf.SymbolicTensor;
      index += 1;
    } else {
      x = torchConv2d(x, `features.${index}`, v, 3, 1, 1, true, opts);
      x = relu(x, `features.${index + 1}`);
      index += 2;
    }
  } // [b,7,7,512]
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor; // [b,25088] in (h,w,c) order
  x = torchLinear(x, 'classifier.0', 4096, opts);
  x = relu(x, 'classifier.1');
  x = tf.layers.dropout({ rate: 0.5, name: 'classifier.2' }).apply(x) as tf.SymbolicTensor;
  x = torchLinear(x, 'classifier.3', 4096, opts);
  x = relu(x, 'classifier.4');
  x = tf.layers.dropout({ rate: 0.5, name: 'classifier.5' }).apply(x) as tf.SymbolicTensor;
  const logits = torchLinear(x, 'classifier.6', 1000, opts);
  return tf.model({ inputs: input, outputs: logits, name: 'vgg16' });
}
