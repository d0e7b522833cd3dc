/**
 * The shared base of the class activation map (CAM) explainers, after pytorch-grad-cam's
 * BaseCAM: it finds the target layer, computes its activations A and (only for the methods that
 * use them) the gradients of the class score y^c (the logit, before softmax) with respect to A,
 * and turns the weighted channel sum into a map (ReLU, per-image scaling to [0, 1]). A variant
 * (Grad-CAM, Score-CAM, ...) is one small file that fills one hook, `getCamWeights`, which gets
 * `{activations, gradients, model, input, classIndex, layer}` of one image and returns weights:
 * one per channel ([1, k], Grad-CAM) or one per activation ([1, h, w, k], HiResCAM). Methods
 * that perturb the input or the activations (Score-CAM, Ablation-CAM) get batched class-score
 * functions in the same context.
 *
 * Two smoothing options apply to every method (after pytorch-grad-cam's `eigen_smooth` and
 * `aug_smooth`; definitions at `eigenSmoothMap` and `AUGMENTATIONS`, docs/EXPLAINERS.md).
 *
 * Pure tensor maths: no files, no images, no colours (rendering lives in render.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../core/errors.js';
import { evaluate, feedInput, forwardLogits, layerOutput, logitsSource, type LogitsSource } from './graph.js';
import { firstRightSingularVector } from './svd.js';

type Layer = tf.layers.Layer;

/** Options shared by every CAM method. */
export interface CamOptions {
  /** Name of the layer whose activations are explained; default: `defaultTargetLayer(model)`. */
  layer?: string;
  /** Inputs per forward pass for the methods that run the model on perturbed copies (default 16). */
  batch?: number;
  /** Average the map over the test-time augmentations `AUGMENTATIONS` (default false). */
  augSmooth?: boolean;
  /** The map is the first principal component of the weighted activations (`eigenSmoothMap`; default false). */
  eigenSmooth?: boolean;
}

/**
 * The test-time augmentations of `augSmooth`, as pytorch-grad-cam's default (ttach: HorizontalFlip
 * x Multiply(0.9, 1, 1.1)): the model input mirrored left-right or not, times an intensity factor
 * (in the model's input space). Each map is flipped back before averaging.
 */
export const AUGMENTATIONS: ReadonlyArray<{ flip: boolean; factor: number }> = [false, true].flatMap((flip) => [0.9, 1, 1.1].map((factor) => ({ flip, factor })));

/**
 * Eigen-smooth (pytorch-grad-cam's `get_2d_projection`, after Eigen-CAM, Muhammad and Yeasin 2020):
 * the weighted activations as a matrix X [h*w positions, k channels], X_pk = W_k A^k_p (W broadcast
 * over space for channel weights), centred per channel (X~ = X - column means), projected on its
 * first principal component v_1 (first right singular vector of X~): map = X~ v_1. The centred
 * projection sums to 0, so the sign of v_1 (arbitrary in an SVD; pytorch-grad-cam leaves it so) is
 * chosen so that the map correlates non-negatively with the plain map sum_k X_pk.
 * @param weighted [1, h, w, k] -> [1, h, w] (before the ReLU)
 */
export function eigenSmoothMap(weighted: tf.Tensor4D): tf.Tensor3D {
  const [, h, w, k] = weighted.shape;
  const x = weighted.dataSync();
  const rows = h * w;
  const mean = new Float64Array(k);
  for (let p = 0; p < rows; p++) for (let c = 0; c < k; c++) mean[c] += x[p * k + c] / rows;
  const centred = new Float64Array(rows * k);
  for (let p = 0; p < rows; p++) for (let c = 0; c < k; c++) centred[p * k + c] = x[p * k + c] - mean[c];
  const v = firstRightSingularVector(centred, rows, k);
  const map = new Float32Array(rows);
  let agreement = 0; // sum_p map_p * plain_p
  for (let p = 0; p < rows; p++) {
    let proj = 0;
    let plain = 0;
    for (let c = 0; c < k; c++) {
      proj += centred[p * k + c] * v[c];
      plain += x[p * k + c];
    }
    map[p] = proj;
    agreement += proj * plain;
  }
  if (agreement < 0) map.forEach((m, p) => (map[p] = -m));
  return tf.tensor3d(map, [1, h, w]);
}

/** What a CAM method's hook gets: one image's target activations, and what it may need besides. */
export interface CamContext {
  /** [1, h, w, k] A: the target layer's activations for this image. */
  activations: tf.Tensor4D;
  /** [1, h, w, k] d y^c / d A; present exactly when the method's `usesGradients` is true. */
  gradients?: tf.Tensor4D;
  model: tf.LayersModel;
  /** [1, H, W, C] the preprocessed model input. */
  input: tf.Tensor4D;
  /** c: the class explained. */
  classIndex: number;
  /** The target layer. */
  layer: Layer;
  /** Inputs per forward pass for perturbation methods. */
  batch: number;
  /** y^c (the logit) for each of a batch of model inputs: [n, H, W, C] -> [n]. */
  classScores(inputs: tf.Tensor4D): tf.Tensor1D;
  /**
   * y^c with the target layer's activations replaced by each of a batch: [n, h, w, k] -> [n]. Only
   * the layers after the target run; tensors from before it (skip branches) are this image's.
   */
  classScoresFromActivations(activations: tf.Tensor4D): tf.Tensor1D;
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
  /** [k] the weight per channel, for the methods whose hook returns one (undefined for element-wise weights). */
  channelWeights?: Float32Array;
}

/**
 * A memo of one image's tensors that tiles each value to `n` images the first time the executor
 * reads it, so that layers after the target can combine a batch of fed activations with this
 * image's skip branches (an add broadcasts, a concatenation would not).
 */
class TiledMemo extends Map<number, tf.Tensor> {
  constructor(entries: Iterable<[number, tf.Tensor]>, private readonly n: number) {
    super(entries);
  }

  override get(id: number): tf.Tensor | undefined {
    const v = super.get(id);
    if (v === undefined || v.shape[0] !== 1 || this.n === 1) return v;
    const tiled = tf.tile(v, [this.n, ...new Array(v.rank - 1).fill(1)]);
    super.set(id, tiled);
    return tiled;
  }
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

/** A CAM method's class: what the registry needs to build it. */
export interface CamClass {
  new (model: tf.LayersModel, options?: CamOptions): BaseCam;
  readonly title: string;
}

/**
 * A class activation map method. Subclasses implement `getCamWeights` (and set `usesGradients`
 * to false when they need no gradients); the base does the rest:
 *
 *   L^c = ReLU(sum_k W_k ⊙ A^k),   scaled to [0, 1] per image
 *
 * with W_k the hook's weights broadcast over space ([1, k]) or element-wise ([1, h, w, k]).
 * `eigenSmooth` replaces the channel sum by `eigenSmoothMap`; `augSmooth` averages the maps of the
 * `AUGMENTATIONS` (`computeAugmented`).
 */
export abstract class BaseCam {
  /** The method's display name (e.g. "Grad-CAM"): each subclass sets `static readonly title`. */
  static readonly title: string = 'CAM';
  get methodName(): string {
    return (this.constructor as typeof BaseCam).title;
  }

  /** Whether the hook reads `gradients` (false: the gradients are not computed at all). */
  readonly usesGradients: boolean = true;
  readonly targetLayer: Layer;
  readonly classes: number;
  readonly batch: number;
  readonly augSmooth: boolean;
  readonly eigenSmooth: boolean;
  private readonly logits: LogitsSource;

  constructor(readonly model: tf.LayersModel, options: CamOptions = {}) {
    this.targetLayer = findTargetLayer(model, options.layer);
    this.logits = logitsSource(model);
    this.classes = numClasses(model, this.logits);
    this.batch = options.batch ?? 16;
    this.augSmooth = options.augSmooth ?? false;
    this.eigenSmooth = options.eigenSmooth ?? false;
    if (!Number.isInteger(this.batch) || this.batch < 1) throw new UsageError(`the CAM batch size must be a positive whole number, got ${this.batch}`);
  }

  /**
   * The hook: weights from one image's target activations (and gradients, when `usesGradients`).
   * Called inside `tf.tidy`.
   * @returns [1, k] one weight per channel, or [1, h, w, k] one weight per activation
   */
  protected abstract getCamWeights(ctx: CamContext): tf.Tensor2D | tf.Tensor4D;

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
    return this.augSmooth ? this.computeAugmented(input, classIndices) : this.computeMaps(input, classIndices);
  }

  /**
   * Aug-smooth: the maps of the `AUGMENTATIONS` of each image, each scaled to [0, 1] and flipped
   * back, averaged, and the average scaled to [0, 1] again. Every augmentation explains the class
   * of the original image (its top-1 when not given; pytorch-grad-cam takes each augmentation's own
   * top-1). `rawMax` is the average's maximum (0: no augmentation found positive evidence);
   * `logit`, `probability` and `channelWeights` are those of the original image.
   */
  private computeAugmented(input: tf.Tensor4D, classIndices?: readonly number[]): CamResult[] {
    const classes = classIndices ?? Array.from(tf.tidy(() => forwardLogits(this.model, input, this.logits).argMax(1).dataSync()));
    let original: CamResult[] = [];
    let sums: Float64Array[] = [];
    for (const { flip, factor } of AUGMENTATIONS) {
      const augmented = tf.tidy(() => (flip ? tf.reverse(input, 2) : input).mul(factor) as tf.Tensor4D);
      let rs: CamResult[];
      try {
        rs = this.computeMaps(augmented, classes);
      } finally {
        augmented.dispose();
      }
      if (!flip && factor === 1) original = rs;
      if (sums.length === 0) sums = rs.map((r) => new Float64Array(r.cam.length));
      rs.forEach((r, b) => {
        for (let y = 0; y < r.camHeight; y++) {
          for (let x = 0; x < r.camWidth; x++) sums[b][y * r.camWidth + x] += r.cam[y * r.camWidth + (flip ? r.camWidth - 1 - x : x)];
        }
      });
    }
    return original.map((r, b) => {
      const mean = Float32Array.from(sums[b], (v) => v / AUGMENTATIONS.length);
      const cam = tf.tidy(() => scaleToUnit(tf.tensor3d(mean, [1, r.camHeight, r.camWidth])).dataSync() as Float32Array);
      return { ...r, cam, rawMax: Math.max(...mean) };
    });
  }

  /** The maps of a batch (no augmentation); `classIndices` checked by `compute`. */
  private computeMaps(input: tf.Tensor4D, classIndices?: readonly number[]): CamResult[] {
    const batch = input.shape[0];
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
      // [batch, h, w, channels] d y^c / d A, one backward pass for the batch: the sum over the
      // batch of y^{c_b} has each image's own gradient, as the images are independent.
      const gradients = this.usesGradients ? this.activationGradients(target, memo, activations, oneHot) : undefined;
      const [, h, w, k] = activations.shape;
      const raws: tf.Tensor3D[] = [];
      const channelWeights: (Float32Array | undefined)[] = [];
      for (let b = 0; b < batch; b++) {
        const one = (t: tf.Tensor4D) => t.slice([b, 0, 0, 0], [1, h, w, k]);
        const a = one(activations);
        const weights = this.getCamWeights(this.hookContext(input.slice([b, 0, 0, 0], [1, ...input.shape.slice(1)]) as tf.Tensor4D, a, gradients && one(gradients), classes[b]));
        channelWeights.push(weights.rank === 2 ? weights.dataSync() as Float32Array : undefined);
        const wide = weights.rank === 2 ? weights.reshape([1, 1, 1, k]) : weights;
        const weighted = a.mul(wide) as tf.Tensor4D; // [1, h, w, k] W_k ⊙ A^k
        raws.push(tf.relu(this.eigenSmooth ? eigenSmoothMap(weighted) : weighted.sum(3)) as tf.Tensor3D); // [1, h, w]
      }
      const raw = tf.concat(raws, 0) as tf.Tensor3D; // [batch, h, w]
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
        channelWeights: channelWeights[b],
      }));
    });
  }

  /** d (sum_b y^{c_b}) / d A for the fed activations. [batch, h, w, k] */
  private activationGradients(target: tf.SymbolicTensor, memo: Map<number, tf.Tensor>, activations: tf.Tensor4D, oneHot: tf.Tensor): tf.Tensor4D {
    const classScore = (a: tf.Tensor): tf.Scalar => {
      const fed = new Map(memo);
      fed.set(target.id, a);
      const y = evaluate(this.logits.tensor, fed, this.logits.linearLayer);
      return y.mul(oneHot).sum() as tf.Scalar;
    };
    return tf.grad(classScore)(activations) as tf.Tensor4D;
  }

  /** The hook's context for one image; its class-score functions build this image's memo on first use. */
  private hookContext(input: tf.Tensor4D, activations: tf.Tensor4D, gradients: tf.Tensor4D | undefined, classIndex: number): CamContext {
    const { model, logits: source } = this;
    const target = layerOutput(this.targetLayer);
    const pick = (y: tf.Tensor) => y.slice([0, classIndex], [-1, 1]).reshape([-1]) as tf.Tensor1D;
    let imageMemo: Map<number, tf.Tensor> | undefined;
    return {
      activations, gradients, model, input, classIndex, layer: this.targetLayer, batch: this.batch,
      classScores: (inputs) => pick(forwardLogits(model, inputs, source)),
      classScoresFromActivations: (fedActivations) => {
        if (!imageMemo) {
          imageMemo = feedInput(model, input);
          evaluate(target, imageMemo); // this image's ancestors of the target (skip branches)
        }
        const fed = new TiledMemo(imageMemo, fedActivations.shape[0]);
        fed.set(target.id, fedActivations);
        return pick(evaluate(source.tensor, fed, source.linearLayer));
      },
    };
  }
}
