/**
 * Penultimate-layer features of the MNIST CNN (dense1, 128-d after ReLU) for test digits,
 * written to features.csv and projected to 2-D with PCA and/or t-SNE (`train-mnist --embed-plot`).
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeCsv } from '../core/csv.js';
import { projectFeatures, type ProjectionChoice } from '../project/index.js';
import { makeBatch, type MnistSplit } from './data.js';

/** Test digits projected (the first N): t-SNE time grows with N; 2,000 keep it to seconds. */
export const EMBED_POINTS = 2000;
export const FEATURE_LAYER = 'dense1';

/** Feature vectors of layer `layerName` and the predicted classes for examples 0..n-1. */
export function extractFeatures(model: tf.LayersModel, split: MnistSplit, n: number, layerName = FEATURE_LAYER) {
  const featureModel = tf.model({ inputs: model.inputs, outputs: [model.getLayer(layerName).output as tf.SymbolicTensor, model.outputs[0]] });
  const idx = Array.from({ length: Math.min(n, split.count) }, (_, i) => i);
  const { feats, preds, dim } = tf.tidy(() => {
    const { x, y } = makeBatch(split, idx);
    y.dispose();
    const [f, p] = featureModel.predict(x) as tf.Tensor[];
    return { feats: f.dataSync() as Float32Array, preds: p.argMax(-1).dataSync() as Int32Array, dim: f.shape[1]! };
  });
  const points = idx.map((i) => feats.subarray(i * dim, (i + 1) * dim));
  return { points, predicted: Array.from(preds), labels: idx.map((i) => split.labels[i]), dim };
}

/** Writes features.csv and the projection plots; returns the files written (relative to outDir). */
export async function projectTestFeatures(model: tf.LayersModel, test: MnistSplit, outDir: string,
  method: ProjectionChoice, seed: number, quiet: boolean): Promise<string[]> {
  const { points, predicted, labels, dim } = extractFeatures(model, test, EMBED_POINTS);
  await writeCsv(path.join(outDir, 'features.csv'), ['id', 'label', 'predicted', ...Array.from({ length: dim }, (_, j) => `f${j}`)],
    points.map((p, i) => [i, labels[i], predicted[i], ...Array.from(p)]));
  const summary = await projectFeatures({
    points, labels, predicted, method, outDir, seed, quiet,
    title: `MNIST CNN ${FEATURE_LAYER} features of ${points.length} test digits`,
  });
  return ['features.csv', 'projection-summary.csv', ...summary.results.flatMap((r) => r.files.map((f) => path.relative(outDir, f)))];
}
