/**
 * ResNet-18 (He et al. 2016, "Deep Residual Learning for Image Recognition"), exactly as
 * torchvision.models.resnet18 defines it, in tfjs layers (NHWC, input [batch, 224, 224, 3],
 * output [batch, 1000] logits).
 *
 * Layer names are torchvision's state_dict prefixes, so weights map one-to-one:
 *   conv1, bn1, layer{1..4}.{0,1}.conv{1,2}, layer{1..4}.{0,1}.bn{1,2},
 *   layer{2..4}.0.downsample.0 (1x1 conv), layer{2..4}.0.downsample.1 (bn), fc.
 * Weightless layers: `relu`, `maxpool`, `avgpool`; in block `layerN.i`: `layerN.i.relu` (after bn1),
 * `layerN.i.add` (residual sum) and `layerN.i` itself, the block's output ReLU — the same tensor
 * as torchvision's `model.layerN[i]` output (Grad-CAM's usual target is `layer4.1`,
 * [batch, 7, 7, 512]). Padding layers are `<conv>.pad`.
 */
import * as tf from '@tensorflow/tfjs';
import { type BuildOptions, relu, torchBatchNorm, torchConv2d, torchLinear, torchMaxPoolAfterRelu } from './layers_util.js';

export const RESNET18_INPUT: [number, number, number] = [224, 224, 3];
/** The block whose output Grad-CAM uses: [batch, 7, 7, 512]. */
export const RESNET18_LAST_CONV_BLOCK = 'layer4.1';

/** torchvision BasicBlock: conv3x3(s)-bn-relu-conv3x3-bn (+ downsample) -> add -> relu. */
function basicBlock(x: tf.SymbolicTensor, name: string, filters: number, stride: number, opts: BuildOptions): tf.SymbolicTensor {
  const inChannels = x.shape[x.shape.length - 1] as number;
  let y = torchConv2d(x, `${name}.conv1`, filters, 3, stride, 1, false, opts);
  y = torchBatchNorm(y, `${name}.bn1`);
  y = relu(y, `${name}.relu`);
  y = torchConv2d(y, `${name}.conv2`, filters, 3, 1, 1, false, opts);
  y = torchBatchNorm(y, `${name}.bn2`);
  let identity = x;
  if (stride !== 1 || inChannels !== filters) {
    identity = torchConv2d(x, `${name}.downsample.0`, filters, 1, stride, 0, false, opts);
    identity = torchBatchNorm(identity, `${name}.downsample.1`);
  }
  const sum = tf.layers.add({ name: `${name}.add` }).apply([y, identity]) as tf.SymbolicTensor;
  return relu(sum, name);
}

/** Builds torchvision's ResNet-18 (1000 classes, logits). */
export function buildResnet18(opts: BuildOptions = {}): tf.LayersModel {
  const input = tf.input({ shape: RESNET18_INPUT, name: 'input' });
  let x = torchConv2d(input, 'conv1', 64, 7, 2, 3, false, opts); // [b,112,112,64]
  x = torchBatchNorm(x, 'bn1');
  x = relu(x, 'relu');
  x = torchMaxPoolAfterRelu(x, 'maxpool', 3, 2, 1); // [b,56,56,64]
  const stages: Array<[number, number]> = [[64, 1], [128, 2], [256, 2], [512, 2]];
  stages.forEach(([filters, stride], s) => {
    x = basicBlock(x, `layer${s + 1}.0`, filters, stride, opts);
    x = basicBlock(x, `layer${s + 1}.1`, filters, 1, opts);
  }); // [b,7,7,512]
  x = tf.layers.globalAveragePooling2d({ name: 'avgpool' }).apply(x) as tf.SymbolicTensor; // [b,512]
  const logits = torchLinear(x, 'fc', 1000, opts);
  return tf.model({ inputs: input, outputs: logits, name: 'resnet18' });
}
