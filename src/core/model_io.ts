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
        throw new InputError(`${modelJsonPath} is not valid JSON (${(err as Error).message}); expected a tfjs layers model.json`);
      }
      if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new InputError(`${modelJsonPath} is not a tfjs layers model (no modelTopology/weightsManifest)`);
      }
      const dir = path.dirname(modelJsonPath);
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of json.weightsManifest) {
        for (const p of group.paths) {
          const file = path.join(dir, p);
          const buf = await fsp.readFile(file).catch(() => {
            throw new InputError(`weights file ${file} named in ${modelJsonPath} is missing; copy it beside model.json`);
          });
          // A large file read by fs owns its ArrayBuffer: use it as is rather than copying.
          const whole = buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength;
          buffers.push((whole ? buf.buffer : buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)) as ArrayBuffer);
        }
        specs.push(...group.weights);
      }
      const weightData = buffers.length === 1 ? buffers[0] : tf.io.concatenateArrayBuffers(buffers);
      const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * (s.dtype === 'float32' || s.dtype === 'int32' ? 4 : 1), 0);
      if (expected !== weightData.byteLength) {
        throw new InputError(`weights in ${dir} hold ${weightData.byteLength} bytes but model.json describes ${expected}; the files do not belong together or are truncated`);
      }
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
    throw new InputError(`could not load the model in ${file} (${(err as Error).message.split('\n')[0]})`);
  }
}
