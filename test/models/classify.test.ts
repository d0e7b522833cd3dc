/**
 * resolveModel / preprocessing / `dnnkit classify`: custom tfjs models (softmax or logits), the
 * ImageNet preprocessing against torchvision's, ImageNet labels from the cache, bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { saveModel } from '../../src/core/model_io.js';
import { centerCrop, preprocessImagenet, torchvisionResizeSize } from '../../src/models/preprocess.js';
import { imagenetClassNames, resolveModel } from '../../src/models/index.js';
import { topK } from '../../src/models/classify.js';
import { lastJson, listFiles, requireOracle, ROOT, runCli, tempDir } from '../helpers.js';
import { torchFixture } from './torch_fixtures.js';

const CHELSEA = path.join(ROOT, 'data', 'images', 'chelsea.png');
const COFFEE = path.join(ROOT, 'data', 'images', 'coffee.png');

/** A tiny image classifier [h,w,c] -> 12 classes, with or without a final softmax. */
async function tinyModel(dir: string, c: number, softmax: boolean): Promise<string> {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [16, 12, c], filters: 4, kernelSize: 3, activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 12, activation: softmax ? 'softmax' : 'linear' }),
    ],
  });
  await saveModel(m, dir);
  m.dispose();
  return dir;
}

test('ImageNet class names: 1000, torchvision order', () => {
  const names = imagenetClassNames();
  assert.equal(names.length, 1000);
  assert.deepEqual([names[0], names[281], names[504], names[999]], ['tench', 'tabby', 'coffee mug', 'toilet tissue']);
});

test('torchvision resize size and centre crop (worked by hand)', () => {
  assert.deepEqual(torchvisionResizeSize(451, 300, 256), { width: 384, height: 256 }); // int(256*451/300)=384
  assert.deepEqual(torchvisionResizeSize(300, 451, 256), { width: 256, height: 384 });
  // 5x4 image, pixel value = 10*y + x in R; crop 3x2 -> top round(1)=1, left round(1)=1.
  const data = new Uint8Array(5 * 4 * 3);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 5; x++) data[(y * 5 + x) * 3] = 10 * y + x;
  const c = centerCrop({ data, width: 5, height: 4 }, 3, 2);
  assert.deepEqual([...c.data].filter((_, i) => i % 3 === 0), [11, 12, 13, 21, 22, 23]);
  assert.throws(() => centerCrop({ data, width: 5, height: 4 }, 6, 2), /smaller/);
});

test('custom model: softmax output detected, grayscale/RGB resize to the input shape, [0,1], no leaks', async (t) => {
  await initBackend();
  const dir = tempDir(t);
  for (const [c, softmax] of [[1, true], [3, false]] as const) {
    const m = await resolveModel(await tinyModel(path.join(dir, `tiny${c}`), c, softmax), { quiet: true });
    assert.equal(m.name, `tiny${c}`);
    assert.deepEqual(m.inputShape, [16, 12, c]);
    assert.equal(m.outputsLogits, !softmax);
    assert.equal(m.classNames, undefined);
    const before = tf.memory().numTensors;
    const { input, display } = await m.preprocess(CHELSEA);
    assert.deepEqual(input.shape, [1, 16, 12, c]);
    assert.deepEqual([display.width, display.height], [12, 16]);
    const v = input.dataSync();
    assert.ok(v.every((x) => x >= 0 && x <= 1));
    if (c === 1) {
      // luma of the first pixel, by hand
      const [r, g, b] = display.data.subarray(0, 3);
      assert.ok(Math.abs(v[0] - (0.299 * r + 0.587 * g + 0.114 * b) / 255) < 1e-5);
    }
    input.dispose();
    assert.equal(tf.memory().numTensors, before);
    m.model.dispose();
  }
});

test('classify CLI: custom model --json top5 sorted; bad image and unknown model: one line, nothing written', async (t) => {
  const dir = tempDir(t);
  const modelDir = await tinyModel(path.join(dir, 'tiny'), 3, true);
  const out = path.join(dir, 'out');
  const res = await runCli(['classify', '--model', modelDir, CHELSEA, COFFEE, '--out', out, '--json']);
  assert.equal(res.code, 0, res.stderr);
  const summary = lastJson(res) as { images: Array<{ file: string; top5: Array<{ index: number; label: string; probability: number }> }> };
  assert.equal(summary.images.length, 2);
  for (const img of summary.images) {
    assert.equal(img.top5.length, 5);
    const p = img.top5.map((x) => x.probability);
    assert.deepEqual([...p].sort((a, b) => b - a), p);
    assert.ok(p.reduce((a, b) => a + b) <= 1 + 1e-6);
    assert.equal(img.top5[0].label, String(img.top5[0].index));
  }
  assert.deepEqual(listFiles(out), ['predictions.csv', 'report.html', 'run.json']);
  // One JSON document on stdout; the CSV holds the same top-5 rows; run.json records both.
  assert.equal(res.stdout.trim().split('\n').length, 1);
  const csv = readFileSync(path.join(out, 'predictions.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'file,rank,index,label,probability');
  assert.equal(csv.length, 1 + 2 * 5);
  assert.equal(csv[1].split(',').slice(0, 3).join(','), `${CHELSEA},1,${summary.images[0].top5[0].index}`);
  const record = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'));
  assert.equal(record.command, 'classify');
  assert.deepEqual(record.result, summary);
  assert.deepEqual(Object.keys(record.files), ['predictions.csv']);

  // Without --json the table is the output, on stdout; stderr has no results.
  const people = await runCli(['classify', '--model', modelDir, CHELSEA, '--out', out]);
  assert.equal(people.code, 0, people.stderr);
  assert.match(people.stdout, /^chelsea\.png {2}\(tiny\)\n {2}# {2}class +index {2}probability\n {2}1 /);
  assert.equal(people.stdout.trim().split('\n').length, 2 + 5);
  assert.doesNotMatch(people.stderr, /chelsea\.png/);

  const notImage = path.join(dir, 'notes.png');
  writeFileSync(notImage, 'not an image');
  const out2 = path.join(dir, 'out2');
  const bad = await runCli(['classify', '--model', modelDir, CHELSEA, notImage, '--out', out2]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /notes\.png is not a readable image/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  const unknown = await runCli(['classify', '--model', 'alexnet', CHELSEA, '--out', out2]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown model 'alexnet': use one of resnet18, vgg16/);
  assert.deepEqual(listFiles(out2), []);
});

test('topK: highest first, ties by index order, labels', () => {
  assert.deepEqual(topK([0.1, 0.5, 0.2, 0.2], 3, ['a', 'b', 'c', 'd']).map((p) => p.label), ['b', 'c', 'd']);
});

test('ImageNet preprocessing matches torchvision (Resize 256, CenterCrop 224, Normalize) within 3 grey levels', async (t) => {
  const py = requireOracle(t, ['torch', 'torchvision']);
  if (!py) return;
  await initBackend();
  const fx = await torchFixture(py, 'resnet18', { noise: 1, legacy: true, images: [CHELSEA, COFFEE] });
  const n = 224 * 224 * 3;
  for (const [i, file] of [[0, CHELSEA], [1, COFFEE]] as const) {
    assert.equal(fx.images[i], path.basename(file));
    const { input, display } = await preprocessImagenet(file);
    assert.deepEqual([display.width, display.height], [224, 224]);
    const got = input.dataSync();
    input.dispose();
    let max = 0;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const d = Math.abs(got[k] - fx.inputs[i * n + k]);
      max = Math.max(max, d);
      sum += d;
    }
    // One grey level is 1/255/0.225 = 0.0174 after normalisation; PIL and libvips resample slightly differently.
    t.diagnostic(`${path.basename(file)}: max |diff| ${max.toFixed(4)}, mean ${(sum / n).toFixed(5)} (normalised units)`);
    assert.ok(max < 3 * 0.0175, `max diff ${max}`);
    assert.ok(sum / n < 0.01, `mean diff ${sum / n}`);
  }
});

test('classify with a converted ResNet-18 under a name of its own: ImageNet labels, table on stdout', async (t) => {
  const py = requireOracle(t, ['torch', 'torchvision']);
  if (!py) return;
  const fx = await torchFixture(py, 'resnet18', { noise: 1, legacy: true, images: [CHELSEA, COFFEE] });
  const home = tempDir(t);
  const conv = await runCli(['models', 'convert', fx.checkpoint, '--arch', 'resnet18', '--name', 'r18-fixture'], { env: { DNNKIT_HOME: home } });
  assert.equal(conv.code, 0, conv.stderr);
  const list = await runCli(['models', 'list', '--json'], { env: { DNNKIT_HOME: home } });
  const models = (lastJson(list) as { models: Array<{ name: string; cached: boolean }> }).models;
  assert.deepEqual(models.map((m) => [m.name, m.cached]), [['resnet18', false], ['vgg16', false], ['r18-fixture', true]]);
  const out = path.join(home, 'out');
  const table = await runCli(['classify', '--model', 'r18-fixture', CHELSEA, '--out', out], { env: { DNNKIT_HOME: home } });
  assert.equal(table.code, 0, table.stderr);
  const record = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'));
  assert.equal(record.settings.model, 'r18-fixture');
  const top5 = record.result.images[0].top5 as Array<{ index: number; label: string }>;
  const names = imagenetClassNames();
  assert.equal(top5.length, 5);
  for (const p of top5) assert.equal(p.label, names[p.index]);
  assert.match(table.stdout, /chelsea\.png {2}\(r18-fixture\)/);
  for (const p of top5) assert.ok(table.stdout.includes(p.label.slice(0, 35)), `table shows ${p.label}`);
});
