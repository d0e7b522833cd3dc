/**
 * Saving and loading tfjs layers models as plain files (model.json + weights.bin) on every
 * backend: tfjs's file:// handler exists only in tfjs-node, so dnnkit has its own IOHandler.
 * Writes are atomic: weights first, model.json last, each through a temp file.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic, assertReadableFile } from './fsutil.js';
import { InputError } from './errors.js';
import { showPath } from './quote.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** An IOHandler that saves to `dir`/model.json + `dir`/weights.bin. */
export function fileSaveHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0)
        : Array.isArray(artifacts.weightData) ? tf.io.concatenateArrayBuffers(artifacts.weightData) : artifacts.weightData;
      const json = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? 'dnnkit',
        trainingConfig: artifacts.trainingConfig,
        userDefinedMetadata: artifacts.userDefinedMetadata,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeFileAtomic(path.join(dir, WEIGHTS_BIN), new Uint8Array(weightData));
      await writeFileAtomic(path.join(dir, MODEL_JSON), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/** An IOHandler that loads a layers model from a model.json path (weights beside it). */
export function fileLoadHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      await assertReadableFile(modelJsonPath, 'model.json');
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(await fsp.readFile(modelJsonPath, 'utf8'));
      } catch (err) {
        throw new InputError(`${showPath(modelJsonPath)} is not valid JSON (${(err as Error).message}); expected a tfjs layers model.json`);
      }
      if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new InputError(`${showPath(modelJsonPath)} is not a tfjs layers model (no modelTopology/weightsManifest)`);
      }
      const dir = path.dirname(modelJsonPath);
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of json.weightsManifest) {
        if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
          throw new InputError(`${showPath(modelJsonPath)}: a weightsManifest entry has no paths/weights lists; expected a tfjs layers model.json`);
        }
        // A group's shards hold its weights back to back: check the files before reading any byte.
        const expected = group.weights.reduce((n, s) => n + weightByteSize(s, modelJsonPath), 0);
        const files = await Promise.all(group.paths.map((p) => weightsFile(dir, p, modelJsonPath)));
        const actual = files.reduce((n, f) => n + f.size, 0);
        if (actual !== expected) {
          throw new InputError(`weights in ${showPath(dir)} hold ${actual} bytes but ${showPath(modelJsonPath)} describes ${expected}; the files do not belong together or are truncated`);
        }
        for (const { file, size } of files) {
          const buf = await fsp.readFile(file).catch((err: NodeJS.ErrnoException) => {
            throw new InputError(`cannot read weights file ${showPath(file)} named in ${showPath(modelJsonPath)} (${err.code ?? err.message})`);
          });
          if (buf.length !== size) throw new InputError(`weights file ${showPath(file)} changed while it was read; try again`);
          // A large file read by fs owns its ArrayBuffer: use it as is rather than copying.
          const whole = buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength;
          buffers.push((whole ? buf.buffer : buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)) as ArrayBuffer);
        }
        specs.push(...group.weights);
      }
      const weightData = buffers.length === 1 ? buffers[0] : tf.io.concatenateArrayBuffers(buffers);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        trainingConfig: json.trainingConfig,
        userDefinedMetadata: json.userDefinedMetadata,
        weightSpecs: specs,
        weightData,
      };
    },
  };
}

/** Bytes per element of the dtypes a weights file stores (tfjs io: float32/int32 4, bool 1, complex64 8, quantised 1 or 2). */
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

/**
 * Bytes a manifest entry occupies in the weights files. A quantised weight (tfjs-converter's
 * --quantize_uint8/uint16/float16) is stored in its quantisation dtype and decoded to `dtype` by
 * tfjs's decodeWeights.
 */
export function weightByteSize(spec: tf.io.WeightsManifestEntry, modelJson: string): number {
  const stored = spec.quantization?.dtype ?? spec.dtype;
  const bytes = DTYPE_BYTES[stored];
  const shape = spec.shape;
  if (!bytes || !Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new InputError(`${showPath(modelJson)}: weight ${JSON.stringify(spec.name)} has ${bytes ? `shape ${JSON.stringify(shape)}` : `dtype ${JSON.stringify(stored)}`}, which dnnkit cannot read; expected a tfjs layers model.json`);
  }
  return shape.reduce((a, b) => a * b, 1) * bytes;
}

/**
 * A weights path of model.json resolved inside the model's folder, with its size. Refuses paths
 * that leave the folder (`../../etc/passwd`, absolute paths, URLs) and anything but a regular file
 * (`/dev/zero` would never end).
 */
async function weightsFile(dir: string, relative: unknown, modelJson: string): Promise<{ file: string; size: number }> {
  const shown = showPath(String(relative));
  if (typeof relative !== 'string' || relative === '' || path.isAbsolute(relative) || /^[a-z][a-z0-9+.-]*:/i.test(relative)) {
    throw new InputError(`${showPath(modelJson)} names the weights file ${JSON.stringify(relative)}; dnnkit reads weights only from files beside model.json (relative paths such as ./weights.bin)`);
  }
  const file = path.join(dir, relative);
  const inside = path.relative(path.resolve(dir), path.resolve(file));
  if (inside === '' || inside.startsWith('..') || path.isAbsolute(inside)) {
    throw new InputError(`${showPath(modelJson)} names the weights file ${shown}, which is outside the model's folder; dnnkit reads weights only from files beside model.json`);
  }
  const st = await fsp.stat(file).catch(() => undefined);
  if (!st) throw new InputError(`weights file ${showPath(file)} named in ${showPath(modelJson)} is missing; copy it beside model.json`);
  if (!st.isFile()) throw new InputError(`weights file ${showPath(file)} named in ${showPath(modelJson)} is not a regular file; copy the weights beside model.json`);
  return { file, size: st.size };
}

/** Resolves a model argument (a directory holding model.json, or the model.json itself). */
export function modelJsonPath(dirOrFile: string): string {
  return dirOrFile.endsWith('.json') ? dirOrFile : path.join(dirOrFile, MODEL_JSON);
}

/** Saves a layers model to `dir`. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(fileSaveHandler(dir));
}

/** Loads a layers model from a directory or model.json path. */
export async function loadModel(dirOrFile: string): Promise<tf.LayersModel> {
  const file = modelJsonPath(dirOrFile);
  try {
    return await tf.loadLayersModel(fileLoadHandler(file));
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`could not load the model in ${showPath(file)} (${(err as Error).message.split('\n')[0]})`);
  }
}
