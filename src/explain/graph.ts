/**
 * An eager executor for tfjs layers models: it runs the layers of a (functional or sequential)
 * model one by one on concrete tensors, following each symbolic tensor back to the node that
 * produced it (`layer.inboundNodes`), so that any intermediate activation can be *fed* instead of
 * computed. That is what Grad-CAM needs for models with skip connections (ResNet): feed the
 * target layer's activations A as the variable of `tf.grad`, while every other tensor that is
 * not downstream of A (the skip branches computed earlier) enters as a constant.
 *
 * It also gives the class *logits* of models whose last layer applies softmax (the MNIST CNN
 * saved by `train-mnist`): the last layer is run with a linear activation.
 *
 * Under a gradient tape it runs Conv2D layers as plain conv2d + bias + activation, with a
 * ZeroPadding2D in front folded into the padding (see plainConv2d): the same values, but the tape
 * skips the filter gradient and the pad/slice pair.
 */
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../core/errors.js';

type Layer = tf.layers.Layer;
type SymbolicTensor = tf.SymbolicTensor;

/** Values of symbolic tensors, keyed by `SymbolicTensor.id`. */
export type TensorMemo = Map<number, tf.Tensor>;

/** A stand-in activation with the interface tfjs layers call (`apply`, `getClassName`). */
const LINEAR_ACTIVATION = { apply: (x: tf.Tensor) => x, getClassName: () => 'linear' };

interface WithActivation {
  activation?: { getClassName(): string } | null;
}

/** How to read class scores (logits) off a model. */
export interface LogitsSource {
  /** The symbolic tensor holding the logits (or the output whose layer is run linearly). */
  tensor: SymbolicTensor;
  /** A layer whose softmax activation is replaced by a linear one when it runs, if any. */
  linearLayer?: Layer;
  /** Whether the model's own output is a softmax of these logits. */
  outputIsSoftmax: boolean;
}

function isSoftmaxActivation(layer: Layer): boolean {
  const act = (layer as unknown as WithActivation).activation;
  return act != null && typeof act.getClassName === 'function' && act.getClassName() === 'softmax';
}

/**
 * Finds the logits of a single-output classifier: the input of a final Softmax/Activation
 * ('softmax') layer, or the pre-activation of a final Dense/Conv layer with softmax activation,
 * or else the output itself (models that already output logits, like torchvision's).
 */
export function logitsSource(model: tf.LayersModel): LogitsSource {
  if (model.outputs.length !== 1) {
    throw new UsageError(`the model has ${model.outputs.length} outputs; dnnkit explains single-output classifiers`);
  }
  const out = model.outputs[0];
  const layer = out.sourceLayer as Layer;
  const cls = layer.getClassName();
  const node = layer.inboundNodes[out.nodeIndex];
  if (cls === 'Softmax' || (cls === 'Activation' && isSoftmaxActivation(layer))) {
    return { tensor: node.inputTensors[0], outputIsSoftmax: true };
  }
  if (isSoftmaxActivation(layer)) return { tensor: out, linearLayer: layer, outputIsSoftmax: true };
  return { tensor: out, outputIsSoftmax: false };
}

/** The fields of a tfjs Conv2D layer that `plainConv2d` reads. */
interface Conv2DFields {
  rank: number;
  kernel: { read(): tf.Tensor4D };
  bias?: { read(): tf.Tensor1D } | null;
  strides: number[];
  padding: 'valid' | 'same' | 'causal';
  dataFormat: string;
  dilationRate: number[];
  activation: { apply(x: tf.Tensor): tf.Tensor };
}

/** Whether a gradient tape is recording (inside tf.grad & co., outside kernels). */
function tapeIsOn(): boolean {
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return typeof engine.isTapeOn === 'function' && engine.isTapeOn();
}

/**
 * A channels-last Conv2D layer as plain tf.conv2d + bias add + activation, for when a gradient
 * is taken. Why: tfjs layers run Conv2D as tf.fused.conv2d, whose custom gradient always computes
 * the filter (and bias) gradient, even when only the input's gradient is asked for (~9% of IG's
 * time on ResNet-18, plus the forward pass's tape bookkeeping); the plain ops' gradients are
 * separate thunks and the tape skips those of the weights. Same maths; undefined when the layer
 * is not one this handles (the caller then runs it as usual).
 */
function plainConv2d(layer: Layer, input: tf.Tensor, zeroPad?: number[][]): tf.Tensor | undefined {
  if (!isPlainConv2d(layer) || input.rank !== 4) return undefined;
  const c = layer as unknown as Conv2DFields;
  if (zeroPad && c.padding !== 'valid') return undefined;
  const pad = zeroPad ? [[0, 0], zeroPad[0], zeroPad[1], [0, 0]] as tf.backend_util.ExplicitPadding : c.padding as 'valid' | 'same';
  return tf.tidy(() => {
    let y: tf.Tensor = tf.conv2d(input as tf.Tensor4D, c.kernel.read(), c.strides as [number, number], pad,
      'NHWC', c.dilationRate as [number, number]);
    if (c.bias) y = tf.add(y, c.bias.read());
    return c.activation.apply(y);
  });
}

function isPlainConv2d(layer: Layer): boolean {
  if (layer.getClassName() !== 'Conv2D') return false;
  const c = layer as unknown as Conv2DFields;
  return c.rank === 2 && c.dataFormat === 'channelsLast' && c.padding !== 'causal';
}

/**
 * The zero padding [[top, bottom], [left, right]] of a channels-last ZeroPadding2D layer, or
 * undefined. The torchvision builders (src/models/layers_util.ts) put one before every padded
 * convolution; under a tape, the executor folds it into the convolution's explicit padding: the
 * PadV2 forward and its Slice gradient cost ~12% of IG's time on ResNet-18 once the rest is fast.
 */
function zeroPadding(layer: Layer): number[][] | undefined {
  if (layer.getClassName() !== 'ZeroPadding2D') return undefined;
  const z = layer as unknown as { padding: number[][]; dataFormat: string };
  return z.dataFormat === 'channelsLast' ? z.padding : undefined;
}

/** Runs one layer on concrete inputs, inference mode (no dropout, batch-norm moving stats). */
function callLayer(layer: Layer, inputs: tf.Tensor[], callArgs: object | undefined, linear: boolean): tf.Tensor[] {
  const holder = layer as unknown as WithActivation;
  const saved = holder.activation;
  if (linear) holder.activation = LINEAR_ACTIVATION;
  try {
    if (inputs.length === 1 && tapeIsOn()) {
      const y = plainConv2d(layer, inputs[0]);
      if (y) return [y];
    }
    const out = layer.apply(inputs.length === 1 ? inputs[0] : inputs, { ...(callArgs ?? {}), training: false }) as tf.Tensor | tf.Tensor[];
    return Array.isArray(out) ? out : [out];
  } finally {
    if (linear) holder.activation = saved;
  }
}

/**
 * Computes the value of `target` from the values already in `memo` (the fed tensors: at least
 * the model inputs), adding every intermediate value to `memo`. Call inside `tf.tidy`.
 */
export function evaluate(target: SymbolicTensor, memo: TensorMemo, linearLayer?: Layer): tf.Tensor {
  const known = memo.get(target.id);
  if (known) return known;
  const layer = target.sourceLayer as Layer;
  const node = layer.inboundNodes[target.nodeIndex];
  if (node === undefined || node.inputTensors.length === 0 || node.inboundLayers.length === 0) {
    throw new Error(`graph executor: no value fed for the input '${target.name}'`);
  }
  if (node.inputTensors.length === 1 && isPlainConv2d(layer) && tapeIsOn()) {
    // ZeroPadding2D -> Conv2D 'valid' as one convolution with explicit padding (unless the padded
    // tensor is fed or already computed: then it is the value to use).
    const padded = node.inputTensors[0];
    const padLayer = padded.sourceLayer as Layer;
    const padNode = padLayer.inboundNodes[padded.nodeIndex];
    const pad = zeroPadding(padLayer);
    if (pad && !memo.has(padded.id) && padNode && padNode.inputTensors.length === 1) {
      const x = evaluate(padNode.inputTensors[0], memo, linearLayer);
      const holder = layer as unknown as WithActivation;
      const saved = holder.activation;
      if (layer === linearLayer) holder.activation = LINEAR_ACTIVATION;
      let y: tf.Tensor | undefined;
      try {
        y = plainConv2d(layer, x, pad);
      } finally {
        holder.activation = saved;
      }
      if (y) {
        memo.set(target.id, y);
        return y;
      }
    }
  }
  const inputs = node.inputTensors.map((t) => evaluate(t, memo, linearLayer));
  const outs = callLayer(layer, inputs, node.callArgs, layer === linearLayer);
  node.outputTensors.forEach((st, i) => memo.set(st.id, outs[i]));
  const value = memo.get(target.id);
  if (!value) throw new Error(`graph executor: layer '${layer.name}' did not produce '${target.name}'`);
  return value;
}

/** A memo holding the model's input tensor (single-input models). */
export function feedInput(model: tf.LayersModel, input: tf.Tensor): TensorMemo {
  if (model.inputs.length !== 1) {
    throw new UsageError(`the model has ${model.inputs.length} inputs; dnnkit explains single-input image classifiers`);
  }
  return new Map([[model.inputs[0].id, input]]);
}

/** Class logits [batch, classes] for a batch of model inputs. Call inside `tf.tidy`. */
export function forwardLogits(model: tf.LayersModel, input: tf.Tensor, source = logitsSource(model)): tf.Tensor2D {
  const logits = evaluate(source.tensor, feedInput(model, input), source.linearLayer);
  if (logits.rank !== 2) throw new UsageError(`the model's output has shape [${logits.shape}]; expected [batch, classes]`);
  return logits as tf.Tensor2D;
}

/** The symbolic output tensor of a top-level layer (its first inbound node in this model). */
export function layerOutput(layer: Layer): SymbolicTensor {
  const node = layer.inboundNodes[0];
  if (!node || node.outputTensors.length !== 1) {
    throw new UsageError(`layer '${layer.name}' has ${node ? node.outputTensors.length : 0} outputs; pick a layer with one output`);
  }
  return node.outputTensors[0];
}
