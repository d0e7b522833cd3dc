/**
 * Saved SST-2 models: `model.json` (format tag, architecture, weight manifest), `weights.bin`
 * (float32 little-endian, in manifest order, via tf.io.encodeWeights) and `vocab.json`, all in
 * one directory. The classifier is built from tf ops (model.ts), not tfjs-layers, so it has its
 * own small format rather than a layers-model topology.
 */
import { promises as fsp } from 'node:fs';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { assertReadableFile, writeFileAtomic } from '../core/fsutil.js';
import { InputError } from '../core/errors.js';
import { createClassifier, type Sst2Classifier, type Sst2ModelConfig } from './model.js';
import { loadVocabulary, saveVocabulary, type Vocabulary } from './data.js';

export const MODEL_FORMAT = 'dnnkit-sst2-lstm';
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

interface SavedModelJson {
  format: string;
  config: Sst2ModelConfig;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  /** Free-form facts about the run (epoch, dev accuracy, seed). */
  metadata?: Record<string, unknown>;
}

/** Writes the classifier and its vocabulary to `dir` (weights first, model.json last). */
export async function saveClassifier(model: Sst2Classifier, vocab: Vocabulary, dir: string, metadata: Record<string, unknown> = {}): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(model.namedWeights());
  const bytes = Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
  await writeFileAtomic(path.join(dir, WEIGHTS_BIN), new Uint8Array(bytes));
  await saveVocabulary(vocab, dir);
  const json: SavedModelJson = { format: MODEL_FORMAT, config: model.config, weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: specs }], metadata };
  await writeFileAtomic(path.join(dir, MODEL_JSON), JSON.stringify(json, null, 1));
}

/** Loads a classifier and vocabulary written by saveClassifier. */
/**
 * The folder holding model.json: `dir` itself, or its model/ subfolder when `dir` is the run
 * folder that `dnnkit sst2 --out` printed (as eval-mnist takes train-mnist's run folder).
 */
export function modelDirOf(dir: string): string {
  return !existsSync(path.join(dir, MODEL_JSON)) && existsSync(path.join(dir, 'model', MODEL_JSON)) ? path.join(dir, 'model') : dir;
}

export async function loadClassifier(given: string): Promise<{ model: Sst2Classifier; vocab: Vocabulary; metadata: Record<string, unknown> }> {
  const dir = modelDirOf(given);
  const file = path.join(dir, MODEL_JSON);
  await assertReadableFile(file, 'SST-2 model.json');
  let json: SavedModelJson;
  try {
    json = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (err) {
    throw new InputError(`${file} is not valid JSON (${(err as Error).message}); give the model directory that dnnkit sst2 wrote`);
  }
  if (json.format !== MODEL_FORMAT || !json.config || !Array.isArray(json.weightsManifest)) {
    throw new InputError(`${file} is not a dnnkit SST-2 model (format '${json.format}'); give the model/ directory that dnnkit sst2 wrote`);
  }
  const weightsFile = path.join(dir, WEIGHTS_BIN);
  await assertReadableFile(weightsFile, 'SST-2 weights');
  const buf = await fsp.readFile(weightsFile);
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (expected !== buf.byteLength) {
    throw new InputError(`${weightsFile} holds ${buf.byteLength} bytes but ${file} describes ${expected}; the files do not belong together or are truncated`);
  }
  const vocab = await loadVocabulary(dir);
  if (vocab.tokens.length !== json.config.vocabSize) {
    throw new InputError(`${dir}: vocab.json has ${vocab.tokens.length} words but the model expects ${json.config.vocabSize}; the files do not belong together`);
  }
  if (vocab.subwords.length !== (json.config.subwords ?? 0)) {
    throw new InputError(`${dir}: vocab.json has ${vocab.subwords.length} subwords but the model expects ${json.config.subwords ?? 0}; the files do not belong together`);
  }
  const weights = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, specs);
  try {
    const model = createClassifier(json.config, 0, weights);
    return { model, vocab, metadata: json.metadata ?? {} };
  } catch (err) {
    throw new InputError(`${file}: ${(err as Error).message}; the model files are inconsistent`);
  } finally {
    tf.dispose(Object.values(weights));
  }
}
