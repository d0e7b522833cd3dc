/**
 * The library's results are typed: this file reads their fields without casts, so `npm test`'s
 * tsc fails if gradCam, patchShapley, explainEval or project go back to returning `object`. The
 * calls run on a tiny model and a tiny CSV, and the typed fields are checked against the files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { saveModel } from '../../src/core/model_io.js';
import { initBackend } from '../../src/core/backend.js';
import { buildMnistCnn } from '../../src/mnist/model.js';
import { explainEval, gradCam, patchShapley, project, type ExplainEvalResult, type ExplainImageEntry, type ExplainRunResult, type ProjectSummary } from '../../src/index.js';
import { tempDir } from '../helpers.js';

test('library results are typed objects: gradCam, patchShapley, explainEval, project', async (t) => {
  await initBackend();
  const dir = tempDir(t);
  const model = path.join(dir, 'model');
  await saveModel(buildMnistCnn({ filters: [4, 8], denseUnits: 16 }), model);
  const digit = path.join(dir, 'digit.png');
  await sharp(Buffer.alloc(28 * 28, 90), { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(digit);

  const cam: ExplainRunResult = await gradCam({ out: path.join(dir, 'cam'), model, images: [digit] });
  const first: ExplainImageEntry = cam.images[0];
  const classIndex: number = first.classIndex;
  assert.ok(classIndex >= 0 && classIndex < 10);
  assert.ok(existsSync(cam.summaryCsv) && existsSync(first.overlayPng as string));
  assert.equal(Object.keys(first.byMethod).join(), 'gradcam');

  const shap: ExplainRunResult = await patchShapley({ out: path.join(dir, 'shap'), model, images: [digit], grid: '2x2', samples: 2 });
  assert.equal((shap.images[0].phi as number[]).length, 4);

  const ev: ExplainEvalResult = await explainEval({ out: path.join(dir, 'eval'), model, images: 2, methods: 'gradcam', steps: 4 });
  const deletion: number = ev.scores[0].deletionAuc;
  assert.ok(deletion >= 0 && deletion <= 1);
  assert.deepEqual(ev.scores.map((s) => s.method), ['gradcam', 'random']);

  const csv = path.join(dir, 'points.csv');
  writeFileSync(csv, ['a,b,c,label', ...Array.from({ length: 30 }, (_, i) => `${i % 7},${(i * 3) % 11},${i},${i % 2 ? 'odd' : 'even'}`)].join('\n') + '\n');
  const proj: ProjectSummary = await project({ out: path.join(dir, 'proj'), file: csv, method: 'pca' });
  const trust: number = proj.results[0].trustworthiness;
  assert.ok(trust > 0 && trust <= 1);
  assert.equal(proj.featureColumns, 3);
});
