/**
 * The models module's public API: resolve a model name or path to a loaded tfjs model with its
 * preprocessing and class names. Registry names (resnet18, vgg16) load from the cache and are
 * pulled on first use, as torchvision's `pretrained=True` does.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { InputError } from '../core/errors.js';
import { loadModel, modelJsonPath } from '../core/model_io.js';
import { isCached, isVerifiedEntry, pullModel } from './cache.js';
import { createLogger, isSilent, writeLine } from '../core/log.js';
import { withArchitecture } from './convert.js';
import { preprocessImagenet, preprocessPlain, type Preprocessed } from './preprocess.js';
import { CACHE_NAME, cachedModelDir, isModelName, MODEL_NAMES, MODELS } from './registry.js';

export interface LoadedModel {
  /** 'resnet18' | 'vgg16' | basename of a custom model. */
  name: string;
  model: tf.LayersModel;
  /** [h, w, c] */
  inputShape: [number, number, number];
  /** true for resnet18/vgg16; false when the last layer is a softmax. */
  outputsLogits: boolean;
  /** ImageNet names for resnet18/vgg16. */
  classNames?: string[];
  /**
   * Image file -> model input [1,h,w,c] (torchvision preprocessing for ImageNet models: resize
   * shorter side 256, centre-crop 224, /255, mean/std normalise; for custom models: resize to
   * inputShape, grayscale if c==1, [0,1]), the RGB image the model sees, and the original image
   * with the input's window in it (for overlays over the whole image and full-resolution maps).
   */
  preprocess(file: string): Promise<Preprocessed>;
}

export { convertCheckpoint } from './convert.js';
export type { ImageView, InputWindow, Preprocessed } from './preprocess.js';
export { MODELS, MODEL_NAMES, type ModelName } from './registry.js';

const CLASSES_FILE = new URL('../../../data/imagenet_classes.json', import.meta.url);
let imagenetClasses: string[] | undefined;

/** The 1000 ImageNet class names in torchvision's order. */
export function imagenetClassNames(): string[] {
  imagenetClasses ??= JSON.parse(readFileSync(CLASSES_FILE, 'utf8')) as string[];
  return imagenetClasses;
}

interface DnnkitMetadata {
  arch?: string;
  outputsLogits?: boolean;
  preprocessing?: 'imagenet';
  classes?: 'imagenet';
}

function lastLayerIsSoftmax(model: tf.LayersModel): boolean {
  const last = model.layers[model.layers.length - 1];
  if (last.getClassName() === 'Softmax') return true;
  const cfg = last.getConfig() as { activation?: string };
  return cfg.activation === 'softmax';
}

function inputShapeOf(model: tf.LayersModel, spec: string): [number, number, number] {
  const shape = model.inputs[0]?.shape;
  if (model.inputs.length !== 1 || !shape || shape.length !== 4 || shape.slice(1).some((d) => d === null || d === undefined)) {
    throw new InputError(`${spec}: dnnkit needs a model with one image input [batch, height, width, channels] of fixed size, got ${JSON.stringify(model.inputs.map((i) => i.shape))}`);
  }
  return shape.slice(1) as [number, number, number];
}

function wrap(name: string, model: tf.LayersModel, spec: string, meta: DnnkitMetadata): LoadedModel {
  const inputShape = inputShapeOf(model, spec);
  const imagenet = meta.preprocessing === 'imagenet';
  const classNames = meta.classes === 'imagenet' ? imagenetClassNames() : undefined;
  return {
    name,
    model,
    inputShape,
    outputsLogits: meta.outputsLogits ?? !lastLayerIsSoftmax(model),
    classNames,
    preprocess: imagenet ? preprocessImagenet : (file) => preprocessPlain(file, inputShape),
  };
}

/** What is known of a registry model without loading (or downloading) it. */
export interface ModelFacts {
  /** [h, w, c] */
  inputShape: [number, number, number];
  classNames: string[];
  preprocess: LoadedModel['preprocess'];
  /** Runs `fn` on an untrained build of the architecture (layer names and shapes, no weights). */
  withArchitecture<T>(fn: (model: tf.LayersModel) => T): Promise<T>;
}

/**
 * The facts of `spec` that are known before it is loaded — for registry names: the ImageNet input
 * shape, class names and torchvision's transform — so that commands check their options and decode
 * every image before a model is downloaded. Undefined for a model path: its input shape comes from
 * its model.json, which is local and quick to load.
 */
export function factsBeforeLoading(spec: string): ModelFacts | undefined {
  if (!isModelName(spec)) return undefined;
  return {
    inputShape: MODELS[spec].inputShape,
    classNames: imagenetClassNames(),
    preprocess: preprocessImagenet,
    withArchitecture: (fn) => withArchitecture(spec, fn),
  };
}

/**
 * Resolves `spec` — a registry name (resnet18, vgg16) or a path to a tfjs model.json or its
 * folder — to a loaded model. Registry models not yet cached are pulled (downloaded, verified,
 * converted) first.
 */
export async function resolveModel(spec: string, opts: { home?: string; quiet?: boolean } = {}): Promise<LoadedModel> {
  if (isModelName(spec)) {
    if (!isCached(spec, opts.home)) {
      if (!isSilent(opts.quiet)) writeLine(process.stderr, `${spec} is not in the model cache yet: pulling it (once)`);
      await pullModel(spec, { home: opts.home, quiet: opts.quiet });
    }
    const dir = cachedModelDir(spec, opts.home);
    const model = await loadModel(dir).catch((err: Error) => {
      throw new InputError(`the cached ${spec} in ${dir} is damaged (${err.message}); run: dnnkit models pull ${spec} --force`);
    });
    const meta = ((model.getUserDefinedMetadata?.() ?? {}) as { dnnkit?: { source?: string; sourceSha256?: string } }).dnnkit ?? {};
    if (!isVerifiedEntry(spec, meta)) {
      createLogger(opts.quiet).warn(`the cached ${spec} was converted from ${meta.source ?? 'an unknown file'}, not torchvision's ${MODELS[spec].file}; run dnnkit models pull ${spec} --force to restore it`);
    }
    return wrap(spec, model, spec, { arch: spec, outputsLogits: true, preprocessing: 'imagenet', classes: 'imagenet' });
  }
  // A model converted into the cache under a name of its own (models convert --name), unless a
  // file or folder of that name is here.
  if (!existsSync(spec) && CACHE_NAME.test(spec) && isCached(spec, opts.home)) {
    const dir = cachedModelDir(spec, opts.home);
    const model = await loadModel(dir);
    const meta = ((model.getUserDefinedMetadata?.() ?? {}) as { dnnkit?: DnnkitMetadata }).dnnkit ?? {};
    return wrap(spec, model, spec, meta);
  }
  if (!existsSync(spec)) {
    throw new InputError(`unknown model '${spec}': use one of ${MODEL_NAMES.join(', ')}, a name converted into the cache (dnnkit models list), or a path to a tfjs model.json (or its folder)`);
  }
  const file = modelJsonPath(spec);
  const model = await loadModel(file);
  const meta = ((model.getUserDefinedMetadata?.() ?? {}) as { dnnkit?: DnnkitMetadata }).dnnkit ?? {};
  const dir = path.dirname(path.resolve(file));
  const name = meta.arch && isModelName(meta.arch) && dir.endsWith(path.join('models', meta.arch)) ? meta.arch : path.basename(dir);
  return wrap(name, model, spec, meta);
}
