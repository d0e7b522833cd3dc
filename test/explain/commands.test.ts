/**
 * The explain commands end to end on a tiny saved model (a folder with model.json, as
 * train-mnist writes): outputs, --json fields, bad input (one-line errors, nothing written),
 * and the registry contract (every explainer: shapes, finite values, no leaks, input untouched).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { saveModel } from '../../src/core/model_io.js';
import { InputError, UsageError } from '../../src/core/errors.js';
import { runExplainers, parseMethods, type ExplainOptions } from '../../src/explain/run.js';
import { DEFAULT_EXPLAIN_SETTINGS, EXPLAINERS, EXPLAINER_NAMES, type ImageContext } from '../../src/explain/registry.js';
import { listFiles, runCli, lastJson, tempDir } from '../helpers.js';
import { sequentialCnn, skipCnn } from './tiny_models.js';

let work: string;
let grayModel: string; // [12, 12, 1] softmax CNN
let rgbModel: string; // [10, 10, 3] skip-connection CNN (logits)
let rgbPng: string;
let grayPng: string;
let rgbaPng: string;
let tinyPng: string;
let notImage: string;

before(async () => {
  await initBackend();
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  work = mkdtempSync(path.join(tmpdir(), 'dnnkit-explain-cmd-'));
  grayModel = path.join(work, 'gray');
  rgbModel = path.join(work, 'rgb');
  await saveModel(sequentialCnn('softmax', 5), grayModel);
  await saveModel(skipCnn(8), rgbModel);
  const noise = (w: number, h: number, c: number) => Buffer.from(Array.from({ length: w * h * c }, (_, i) => (i * 97 + (i % 7) * 31) % 256));
  rgbPng = path.join(work, 'rgb.png');
  grayPng = path.join(work, 'gray.png');
  rgbaPng = path.join(work, 'rgba.png');
  tinyPng = path.join(work, 'tiny.png');
  notImage = path.join(work, 'notes.png');
  await sharp(noise(40, 30, 3), { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(rgbPng);
  await sharp(noise(24, 24, 1), { raw: { width: 24, height: 24, channels: 1 } }).png().toFile(grayPng);
  await sharp(noise(20, 20, 4), { raw: { width: 20, height: 20, channels: 4 } }).png().toFile(rgbaPng);
  await sharp(noise(3, 3, 3), { raw: { width: 3, height: 3, channels: 3 } }).png().toFile(tinyPng);
  writeFileSync(notImage, 'this is not an image\n');
});

after(() => rmSync(work, { recursive: true, force: true }));

function opts(out: string, extra: Partial<ExplainOptions> = {}): ExplainOptions {
  return { out, seed: 42, json: true, debug: false, model: grayModel, ...extra } as ExplainOptions;
}

test('gradcam, shap and explain write their files and --json fields (grayscale, RGBA and RGB inputs)', async (t) => {
  const out = path.join(tempDir(t), 'o');
  const g = await runExplainers(['gradcam'], opts(out), [grayPng, rgbaPng], 'separate') as { images: Record<string, unknown>[] };
  assert.equal(g.images.length, 2);
  for (const k of ['classIndex', 'label', 'probability', 'layer', 'camCsv', 'overlayPng']) assert.ok(k in g.images[0], k);
  const csv = readFileSync(g.images[0].camCsv as string, 'utf8').trim().split('\n');
  assert.equal(csv.length, 1 + 8, 'header + one row per map row (conv2 is 8x8)');
  assert.equal(csv[1].split(',').length, 8);
  const s = await runExplainers(['shap'], opts(out, { model: rgbModel, grid: '2x3', exact: true, baseline: 'blur' }), [rgbPng], 'separate') as { images: Record<string, unknown>[] };
  const r = s.images[0];
  for (const k of ['phi', 'se', 'vFull', 'vEmpty', 'efficiencyGap', 'evaluations', 'classIndex']) assert.ok(k in r, k);
  assert.equal((r.phi as number[]).length, 6);
  assert.equal(r.evaluations, 64);
  assert.ok((r.efficiencyGap as number) < 1e-6);
  const rows = readFileSync(r.csv as string, 'utf8').trim().split('\n');
  assert.equal(rows[0], 'patch,row,col,phi,se,ci_low,ci_high');
  assert.equal(rows.length, 7);
  const e = await runExplainers(parseMethods('gradcam,shap'), opts(out, { patches: 4, samples: 4 }), [grayPng], 'side-by-side') as { images: Record<string, unknown>[] };
  assert.ok(existsSync(e.images[0].figurePng as string));
  assert.deepEqual(listFiles(out).filter((f) => !f.endsWith('.json') && !f.startsWith('.')), [
    'gray.gray.explain.png', 'gray.gray.gradcam.csv', 'gray.gray.gradcam.png', 'gray.gray.gradcam.raw.png', 'rgb.rgb.shap.csv', 'rgb.rgb.shap.png', 'rgb.rgb.shap.raw.png',
    'rgba.gray.gradcam.csv', 'rgba.gray.gradcam.png', 'rgba.gray.gradcam.raw.png',
    'summary.csv', // the last run's table (issue 16)
  ]);
  const meta = await sharp(e.images[0].figurePng as string).metadata();
  assert.ok((meta.width ?? 0) > 600 && (meta.height ?? 0) > 300, 'a readable figure');
});

test('bad input: usage and input errors before anything is written', async (t) => {
  const base = tempDir(t);
  const cases: Array<[string, Partial<ExplainOptions>, string[], 'gradcam' | 'shap', RegExp, typeof UsageError | typeof InputError]> = [
    ['not an image', {}, [notImage], 'gradcam', /not a readable image/, InputError],
    ['missing file', {}, [path.join(work, 'nope.png')], 'gradcam', /not found/, InputError],
    ['smaller than the grid', { model: rgbModel, patches: 16 }, [tinyPng], 'shap', /3x3 pixels, smaller than the 4x4 patch grid/, InputError],
    ['--patches 15', { patches: 15 }, [grayPng], 'shap', /perfect square.*got 15/, UsageError],
    ['grid larger than the model input', { grid: '13x2' }, [grayPng], 'shap', /does not fit the 12x12 model input/, UsageError],
    ['class out of range', { class: '3' }, [grayPng], 'gradcam', /class 3 is out of range: the model has 3 classes \(0-2\)/, UsageError],
    ['label without class names', { class: 'cat' }, [grayPng], 'gradcam', /no class names/, UsageError],
    ['layer not 4-D', { layer: 'flatten' }, [grayPng], 'gradcam', /not 4-D/, UsageError],
    ['unknown layer', { layer: 'conv9' }, [grayPng], 'gradcam', /no such layer.*conv1, conv2/, UsageError],
    ['--exact with 16 patches', { patches: 16, exact: true }, [grayPng], 'shap', /at most 12 patches/, UsageError],
    ['bad image among good ones', {}, [grayPng, notImage], 'gradcam', /notes.png is not a readable image/, InputError],
  ];
  for (const [name, extra, files, method, message, kind] of cases) {
    const out = path.join(base, name.replace(/\W+/g, '_'));
    await assert.rejects(runExplainers([method], opts(out, extra), files, 'separate'), (e: Error) => e instanceof kind && message.test(e.message) && !e.message.includes('\n'), name);
    assert.ok(!existsSync(out), `${name}: nothing written`);
  }
  assert.throws(() => parseMethods('gradcam,lime'), /unknown method 'lime'; use some of gradcam, shap/);
});

test('CLI: one-line errors with exit codes, --json summary', async (t) => {
  const out = path.join(tempDir(t), 'cli');
  const bad = await runCli(['shap', '--model', grayModel, '--patches', '15', '--out', out, grayPng]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.match(bad.stderr, /perfect square/);
  const notImg = await runCli(['gradcam', '--model', grayModel, '--out', out, notImage]);
  assert.equal(notImg.code, 1);
  assert.equal(notImg.stderr.trim().split('\n').length, 1, notImg.stderr);
  assert.ok(!existsSync(out));
  const ok = await runCli(['gradcam', '--model', grayModel, '--out', out, '--json', grayPng]);
  assert.equal(ok.code, 0, ok.stderr);
  const j = lastJson(ok) as { images: { overlayPng: string; layer: string }[] };
  assert.equal(j.images[0].layer, 'conv2');
  assert.ok(existsSync(j.images[0].overlayPng));
  const help = await runCli(['explain', '--help']);
  assert.match(help.stdout, new RegExp(`--methods <list>.*${EXPLAINER_NAMES.join(', ')}`, 's'));
});

test('registry contract: every explainer gives a finite H x W map, leaves the input alone, leaks no tensors', async () => {
  const model = skipCnn(4);
  const input = tf.randomUniform([1, 10, 10, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const copy = input.dataSync().slice();
  const display = { data: Uint8Array.from(copy, (v) => Math.round(v * 255)), width: 10, height: 10 };
  const ctx: ImageContext = { name: 'x', modelName: 'm', model, input, display, classIndex: 1, label: '1', probability: 0.5 };
  const settings = { ...DEFAULT_EXPLAIN_SETTINGS, grid: { rows: 2, cols: 2 }, samples: 4 };
  for (const name of EXPLAINER_NAMES) await EXPLAINERS[name].explain(ctx, settings); // warm-up
  const before = tf.memory().numTensors;
  for (let rep = 0; rep < 2; rep++) {
    for (const name of EXPLAINER_NAMES) {
      const out = await EXPLAINERS[name].explain(ctx, settings);
      assert.equal(out.pixelMap.length, 100, name);
      assert.ok(out.pixelMap.every(Number.isFinite), name);
      assert.equal(out.panel.image.width, 10);
    }
  }
  assert.equal(tf.memory().numTensors, before, 'no leaked tensors');
  assert.deepEqual(input.dataSync(), copy, 'input not mutated');
  input.dispose();
});

test('several classes per run: --class top2 and --class 0,2 give one set of files per (image, class), each for its class', async (t) => {
  const out = path.join(tempDir(t), 'o');
  const top = await runExplainers(['gradcam'], opts(out, { class: 'top2' }), [grayPng, rgbaPng], 'separate') as { images: Record<string, unknown>[] };
  assert.equal(top.images.length, 4, 'two images x two classes');
  for (const pair of [top.images.slice(0, 2), top.images.slice(2)]) {
    assert.notEqual(pair[0].classIndex, pair[1].classIndex);
    assert.ok((pair[0].probability as number) >= (pair[1].probability as number), 'the most probable class first');
    assert.match(pair[0].overlayPng as string, new RegExp(`\\.c${pair[0].classIndex}\\.`));
    assert.notEqual(pair[0].camCsv, pair[1].camCsv);
    assert.notEqual(readFileSync(pair[0].camCsv as string, 'utf8'), readFileSync(pair[1].camCsv as string, 'utf8'), 'different classes, different maps');
  }
  const list = await runExplainers(['gradcam'], opts(out, { class: '0,2' }), [grayPng], 'separate') as { images: Record<string, unknown>[] };
  assert.deepEqual(list.images.map((r) => r.classIndex), [0, 2]);
  const one = await runExplainers(['gradcam'], opts(out, { class: '2' }), [grayPng], 'separate') as { images: Record<string, unknown>[] };
  assert.equal(one.images.length, 1);
  assert.doesNotMatch(one.images[0].overlayPng as string, /\.c2\./, 'one class keeps the plain file names');
});
