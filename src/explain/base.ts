/**
 * The shared base of the class activation map (CAM) explainers, after pytorch-grad-cam's
 * BaseCAM: it finds the target layer, computes its activations A and the gradients of the class
 * score y^c (the logit, before softmax) with respect to A, and turns the weighted channel sum into
 * a map (ReLU, per-image scaling to [0, 1]). A variant (Grad-CAM, ...) fills one hook,
 * `getCamWeights`, that turns activations and gradients into one weight per channel.
 *
 * Pure tensor maths: no files, no images, no colours (rendering lives in render.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../core/errors.js';
import { evaluate, feedInput, layerOutput, logitsSource, type LogitsSource } from './graph.js';

type Layer = tf.layers.Layer;

/** Options shared by every CAM method. */
export interface CamOptions {
  /** Name of the layer whose activations are explained; default: `defaultTargetLayer(model)`. */
  layer?: string;
}

/** One image's class activation map. */
export interface CamResult {
  /** The target layer's name. */
  layer: string;
  /** The class explained. */
  classIndex: number;
  /** y^c: the class logit (before softmax). */
  logit: number;
  /** softmax(y)_c: the class probability. */
  probability: number;
  /** [camHeight * camWidth] row-major map at the layer's resolution, after ReLU, scaled to [0, 1]. */
  cam: Float32Array;
  camHeight: number;
  camWidth: number;
  /** Largest value of the map before scaling: 0 means no positive evidence for the class at this layer. */
  rawMax: number;
}

/** The output shape of a layer, as one shape (first output). */
function outputShapeOf(layer: Layer): (number | null)[] {
  const s = layer.outputShape as (number | null)[] | (number | null)[][];
  return Array.isArray(s[0]) ? (s[0] as (number | null)[]) : (s as (number | null)[]);
}

/** Whether a layer is a convolution (the "conv-like" layers Grad-CAM targets by default). */
function isConvLayer(layer: Layer): boolean {
  return /Conv\d?D|Conv2DTranspose/.test(layer.getClassName());
}

/** Top-level layers with a 4-D output [batch, height, width, channels]: the valid targets. */
export function spatialLayers(model: tf.LayersModel): Layer[] {
  return model.layers.filter((l) => l.getClassName() !== 'InputLayer' && outputShapeOf(l).length === 4);
}

/**
 * The default target layer: the rectified output of the last convolution, i.e. the last layer
 * with a 4-D output at the same spatial size as the last Conv layer (for ResNet-18 the output of
 * block layer4.1, after the residual add and ReLU; for VGG-16 the ReLU after features.28; for a
 * small CNN its last conv layer or the activation after it). Without any conv layer: the last
 * 4-D layer. This is the layer the Grad-CAM paper uses ("the last convolutional layer").
 */
export function defaultTargetLayer(model: tf.LayersModel): Layer {
  const spatial = spatialLayers(model);
  if (spatial.length === 0) {
    throw new UsageError('the model has no layer with a 4-D output [batch, height, width, channels]; Grad-CAM needs a convolutional model');
  }
  const convs = spatial.filter(isConvLayer);
  if (convs.length === 0) return spatial[spatial.length - 1];
  const lastConv = convs[convs.length - 1];
  const [, h, w] = outputShapeOf(lastConv);
  const after = spatial.slice(spatial.indexOf(lastConv));
  const sameSize = after.filter((l) => {
    const s = outputShapeOf(l);
    return s[1] === h && s[2] === w;
  });
  return sameSize[sameSize.length - 1];
}

/**
 * Looks up the target layer by name (default: `defaultTargetLayer`). An unknown name lists the
 * 4-D layers; a layer whose output is not 4-D is a usage error.
 */
export function findTargetLayer(model: tf.LayersModel, name?: string): Layer {
  if (name === undefined) return defaultTargetLayer(model);
  const layer = model.layers.find((l) => l.name === name);
  const names = spatialLayers(model).map((l) => l.name);
  if (!layer) {
    const shown = names.length > 40 ? [...names.slice(0, 12), '...', ...names.slice(-12)] : names;
    throw new UsageError(`--layer ${name}: no such layer; layers with 4-D outputs: ${shown.join(', ')}`);
  }
  const shape = outputShapeOf(layer);
  if (shape.length !== 4) {
    throw new UsageError(`--layer ${name} has output shape [${shape.map((d) => d ?? 'batch').join(', ')}], not 4-D [batch, height, width, channels]; pick a convolutional layer such as ${names[names.length - 1] ?? '(none)'}`);
  }
  return layer;
}

/** Number of classes of a classifier (size of the logits). */
export function numClasses(model: tf.LayersModel, source: LogitsSource = logitsSource(model)): number {
  const shape = source.tensor.shape;
  const k = shape[shape.length - 1];
  if (shape.length !== 2 || k === null) throw new UsageError(`the model's output has shape [${shape}]; expected [batch, classes]`);
  return k;
}

/**
 * Resolves `--class INDEX|LABEL` to a class index: a whole number in [0, classes), or a label
 * (case-insensitive; any comma-separated synonym of an ImageNet label such as "tabby, tabby cat").
 * Undefined stays undefined (= the top-1 prediction).
 */
export function resolveClassIndex(spec: string | number | undefined, classes: number, classNames?: readonly string[]): number | undefined {
  if (spec === undefined) return undefined;
  const text = String(spec).trim();
  if (/^\d+$/.test(text)) {
    const idx = Number(text);
    if (idx >= classes) throw new UsageError(`--class ${text} is out of range: the model has ${classes} classes (0-${classes - 1})`);
    return idx;
  }
  if (!classNames || classNames.length === 0) {
    throw new UsageError(`--class ${text}: the model has no class names; give a class index 0-${classes - 1}`);
  }
  const want = text.toLowerCase();
  const synonyms = (n: string) => n.toLowerCase().split(',').map((s) => s.trim());
  const exact = classNames.findIndex((n) => n.toLowerCase() === want || synonyms(n).includes(want));
  if (exact >= 0) return exact;
  const close = classNames.filter((n) => n.toLowerCase().includes(want)).slice(0, 5);
  throw new UsageError(`--class '${text}' is not a class label of this model${close.length ? `; did you mean ${close.map((c) => `'${c}'`).join(', ')}?` : '; give a class index or an exact label'}`);
}

/**
 * Scales each map of a batch to [0, 1]: (m - min) / (max - min); a constant map becomes 0.
 * @param maps [batch, h, w]
 */
export function scaleToUnit(maps: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const lo = maps.min([1, 2], true);
    const range = maps.max([1, 2], true).sub(lo);
    const safe = tf.where(range.greater(0), range, tf.onesLike(range));
    return maps.sub(lo).div(safe).mul(range.greater(0).toFloat()) as tf.Tensor3D;
  });
}

/**
 * Bilinear upsampling of a [h, w] map to [outH, outW] with half-pixel centres (as OpenCV's
 * resize and torch's interpolate(align_corners=False)), clipped to [0, 1].
 */
export function upsampleBilinear(map: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  return tf.tidy(() => {
    const t = tf.tensor4d(map, [1, h, w, 1]);
    const up = tf.image.resizeBilinear(t, [outH, outW], false, true).clipByValue(0, 1);
    return up.dataSync() as Float32Array;
  });
}

/**
 * A class activation map method. Subclasses implement `getCamWeights` (one weight per channel
 * per image); the base does the rest.
 */
export abstract class BaseCam {
  /** The method's display name (e.g. "Grad-CAM"). */
  abstract readonly methodName: string;
  readonly targetLayer: Layer;
  readonly classes: number;
  private readonly logits: LogitsSource;

  constructor(readonly model: tf.LayersModel, options: CamOptions = {}) {
    this.targetLayer = findTargetLayer(model, options.layer);
    this.logits = logitsSource(model);
    this.classes = numClasses(model, this.logits);
  }

  /**
   * The hook: channel weights from the target layer's activations and the gradients of the
   * class score with respect to them.
   * @param activations [batch, h, w, channels] A^k
   * @param gradients [batch, h, w, channels] d y^c / d A^k
   * @returns [batch, channels] alpha_k^c
   */
  protected abstract getCamWeights(activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor2D;

  /**
   * Class activation maps for a batch of model inputs.
   * @param input [batch, H, W, C] preprocessed model inputs
   * @param classIndices the class to explain per image; default the top-1 prediction
   */
  compute(input: tf.Tensor4D, classIndices?: readonly number[]): CamResult[] {
    const batch = input.shape[0];
    if (classIndices !== undefined && classIndices.length !== batch) {
      throw new Error(`compute: ${classIndices.length} class indices for a batch of ${batch}`);
    }
    for (const c of classIndices ?? []) {
      if (!Number.isInteger(c) || c < 0 || c >= this.classes) throw new UsageError(`class index ${c} is out of range: the model has ${this.classes} classes (0-${this.classes - 1})`);
    }
    const target = layerOutput(this.targetLayer);
    return tf.tidy(() => {
      const memo = feedInput(this.model, input);
      // [batch, h, w, channels] activations of the target layer; memo now holds all its ancestors.
      const activations = evaluate(target, memo) as tf.Tensor4D;
      if (activations.rank !== 4) throw new UsageError(`layer '${this.targetLayer.name}' gave a ${activations.rank}-D tensor, not 4-D`);
      // [batch, classes] logits: only the part of the network after the target layer runs again.
      const logits = evaluate(this.logits.tensor, new Map(memo), this.logits.linearLayer) as tf.Tensor2D;
      const classes = classIndices ? Array.from(classIndices) : Array.from(logits.argMax(1).dataSync());
      const oneHot = tf.oneHot(tf.tensor1d(classes, 'int32'), this.classes).toFloat();
      // Sum over the batch of y^{c_b}: images are independent, so d/dA gives each image's own gradient.
      const classScore = (a: tf.Tensor): tf.Scalar => {
        const fed = new Map(memo);
        fed.set(target.id, a);
        const y = evaluate(this.logits.tensor, fed, this.logits.linearLayer);
        return y.mul(oneHot).sum() as tf.Scalar;
      };
      const gradients = tf.grad(classScore)(activations) as tf.Tensor4D;
      const weights = this.getCamWeights(activations, gradients); // [batch, channels]
      const [, h, w, k] = activations.shape;
      const raw = tf.relu(activations.mul(weights.reshape([batch, 1, 1, k])).sum(3)) as tf.Tensor3D; // [batch, h, w]
      const rawMax = raw.max([1, 2]).dataSync();
      const cams = scaleToUnit(raw).dataSync() as Float32Array;
      const probs = tf.softmax(logits).mul(oneHot).sum(1).dataSync();
      const chosen = logits.mul(oneHot).sum(1).dataSync();
      return classes.map((c, b) => ({
        layer: this.targetLayer.name,
        classIndex: c,
        logit: chosen[b],
        probability: probs[b],
        cam: cams.slice(b * h * w, (b + 1) * h * w),
        camHeight: h,
        camWidth: w,
        rawMax: rawMax[b],
      }));
    });
  }
}
