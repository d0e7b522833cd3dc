/**
 * The CAM variants from the commands: `gradcam --method NAME` writes `<image>.<model>.<NAME>.png/.csv`,
 * `explain --methods` puts any registered methods side by side, `explain-eval --methods` scores the
 * chosen ones (and random), and the help texts list every registered method.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../../src/core/backend.js';
import { saveModel } from '../../src/core/model_io.js';
import { buildMnistCnn } from '../../src/mnist/model.js';
import { runExplainers, parseMethods, type ExplainOptions } from '../../src/explain/run.js';
import { runExplainEval, type ExplainEvalOptions } from '../../src/explain/eval.js';
import { CAM_NAMES, EXPLAINERS, EXPLAINER_NAMES } from '../../src/explain/registry.js';
import { lastJson, listFiles, runCli, tempDir } from '../helpers.js';
import { skipCnn } from './tiny_models.js';

before(async () => {
  await initBackend();
});

async function fixture(t: import('node:test').TestContext): Promise<{ dir: string; model: string; png: string }> {
  const dir = tempDir(t);
  const model = path.join(dir, 'rgb');
  await saveModel(skipCnn(8), model);
  const png = path.join(dir, 'img.png');
  const px = Buffer.from(Array.from({ length: 30 * 20 * 3 }, (_, i) => (i * 53 + (i % 11) * 17) % 256));
  await sharp(px, { raw: { width: 30, height: 20, channels: 3 } }).png().toFile(png);
  return { dir, model, png };
}

test('gradcam --method: every CAM method writes its own files and --json fields', async (t) => {
  const { dir, model, png } = await fixture(t);
  const out = path.join(dir, 'out');
  for (const method of CAM_NAMES) {
    const r = await runExplainers([method], { out, seed: 1, json: true, debug: false, model, batch: 2 } as ExplainOptions, [png], 'separate') as { images: Record<string, string>[]; settings: Record<string, unknown> };
    assert.equal(r.images[0].camCsv, path.join(out, `img.rgb.${method}.csv`));
    assert.ok(existsSync(r.images[0].overlayPng));
    assert.equal(readFileSync(r.images[0].camCsv, 'utf8').trim().split('\n').length, 1 + 5, `${method}: header + one row per map row (layer c is 5x5)`);
    assert.match(String(r.settings.layer), /default/);
  }
  assert.equal(listFiles(out).filter((f) => f.endsWith('.png') && !f.endsWith('.raw.png')).length, CAM_NAMES.length);
  assert.equal(listFiles(out).filter((f) => f.endsWith('.raw.png')).length, CAM_NAMES.length, 'one full-resolution raw map per method');
});

test('explain --methods: any registered methods side by side; unknown names list them all', async (t) => {
  const { dir, model, png } = await fixture(t);
  const r = await runExplainers(parseMethods('eigencam,scorecam,layercam'), { out: path.join(dir, 'e'), seed: 1, json: true, debug: false, model } as ExplainOptions, [png], 'side-by-side') as { images: Record<string, unknown>[]; methods: string[] };
  assert.deepEqual(r.methods, ['eigencam', 'scorecam', 'layercam']);
  const byMethod = r.images[0].byMethod as Record<string, { layer: string; seconds: number }>;
  assert.deepEqual(Object.keys(byMethod), ['eigencam', 'scorecam', 'layercam'], 'each method\'s own fields (CAMs share their names)');
  for (const m of r.methods) assert.ok(byMethod[m].layer === 'c' && byMethod[m].seconds >= 0);
  const meta = await sharp(r.images[0].figurePng as string).metadata();
  assert.ok((meta.width ?? 0) > 4 * 200, 'four panels: the image and three maps');
  assert.deepEqual(parseMethods(undefined), EXPLAINER_NAMES.filter((n) => EXPLAINERS[n].explainByDefault));
  assert.throws(() => parseMethods('gradcam++'), new RegExp(`unknown method 'gradcam\\+\\+'; use some of ${EXPLAINER_NAMES.join(', ')}`));
});

test('explain-eval --methods scores the chosen methods and random', async (t) => {
  const dir = tempDir(t);
  const modelDir = path.join(dir, 'model');
  await saveModel(buildMnistCnn({ filters: [4, 8], denseUnits: 16 }), modelDir);
  const r = await runExplainEval({ model: modelDir, images: 2, steps: 4, batch: 64, methods: 'hirescam,ablationcam', out: path.join(dir, 'eval'), seed: 1, json: true, debug: false } as ExplainEvalOptions) as {
    scores: { method: string; deletionAuc: number }[]; settings: Record<string, unknown>;
  };
  assert.deepEqual(r.scores.map((s) => s.method), ['hirescam', 'ablationcam', 'random']);
  for (const s of r.scores) assert.ok(s.deletionAuc >= 0 && s.deletionAuc <= 1);
  assert.ok(!('grid' in r.settings), 'no Shapley settings without shap');
});

test('CLI: gradcam --method, help lists every method, unknown method is a usage error', async (t) => {
  const { dir, model, png } = await fixture(t);
  const ok = await runCli(['gradcam', '--method', 'gradcampp', '--model', model, '--out', path.join(dir, 'cli'), '--json', png]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(existsSync((lastJson(ok) as { images: { overlayPng: string }[] }).images[0].overlayPng));
  const bad = await runCli(['gradcam', '--method', 'gradcam++', '--model', model, '--out', path.join(dir, 'bad'), png]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /gradcampp/);
  assert.ok(!existsSync(path.join(dir, 'bad')));
  const help = await runCli(['gradcam', '--help']);
  for (const n of CAM_NAMES) assert.match(help.stdout, new RegExp(`^  ${n} +${EXPLAINERS[n].description.slice(0, 20).replace(/[()+]/g, '\\$&')}`, 'm'));
  const evalHelp = await runCli(['explain-eval', '--help']);
  assert.match(evalHelp.stdout, new RegExp(`--methods <list>.*${EXPLAINER_NAMES.join(', ')}`, 's'));
});
