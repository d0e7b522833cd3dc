import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { saveModel } from '../../src/core/model_io.js';
import { buildMnistCnn } from '../../src/mnist/model.js';
import { runExplainEval, EVAL_METHODS, type ExplainEvalOptions } from '../../src/explain/eval.js';
import { tempDir } from '../helpers.js';

before(async () => {
  await initBackend();
});

test('explain-eval writes curves, AUCs and a plot for every method (untrained CNN, 3 digits)', async (t) => {
  const dir = tempDir(t);
  const modelDir = path.join(dir, 'model');
  await saveModel(buildMnistCnn({ filters: [4, 8], denseUnits: 16 }), modelDir);
  const before = tf.memory().numTensors;
  const out = path.join(dir, 'eval');
  const r = await runExplainEval({ model: modelDir, images: 3, samples: 4, steps: 7, batch: 64, grid: '4x4', out, seed: 1, json: true, debug: false } as ExplainEvalOptions) as {
    scores: { method: string; deletionAuc: number; insertionAuc: number }[]; beatsRandom: Record<string, unknown>;
  };
  assert.deepEqual(r.scores.map((s) => s.method), [...EVAL_METHODS]);
  for (const s of r.scores) assert.ok(s.deletionAuc >= 0 && s.deletionAuc <= 1 && s.insertionAuc >= 0 && s.insertionAuc <= 1);
  assert.deepEqual(Object.keys(r.beatsRandom), EVAL_METHODS.filter((m) => m !== 'random'));
  const curves = readFileSync(path.join(out, 'curves.csv'), 'utf8').trim().split('\n');
  assert.equal(curves.length, 1 + EVAL_METHODS.length * 2 * 8);
  assert.equal(readFileSync(path.join(out, 'per_image.csv'), 'utf8').trim().split('\n').length, 1 + 3 * EVAL_METHODS.length);
  assert.ok(existsSync(path.join(out, 'curves.png')) && existsSync(path.join(out, 'auc.csv')));
  assert.equal(tf.memory().numTensors, before, 'no leaked tensors (the run disposes the model it loaded)');
});

test('explain-eval rejects a model that does not take MNIST digits, before writing', async (t) => {
  const dir = tempDir(t);
  const modelDir = path.join(dir, 'model');
  const m = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [10, 10, 3], filters: 2, kernelSize: 3 }), tf.layers.flatten(), tf.layers.dense({ units: 2 })] });
  await saveModel(m, modelDir);
  const out = path.join(dir, 'eval');
  await assert.rejects(runExplainEval({ model: modelDir, images: 2, samples: 4, steps: 4, batch: 8, out, seed: 1, json: true, debug: false } as ExplainEvalOptions), /not MNIST digits/);
  assert.ok(!existsSync(out));
});
