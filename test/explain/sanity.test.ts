/**
 * explain-eval --sanity (explain/sanity.ts): on a CAM model whose Grad-CAM is known in closed form,
 * randomising the logits layer gives exactly the closed form with the new weights, while Eigen-CAM
 * (which reads nothing above its layer) does not change at all; the run on an untrained MNIST CNN
 * writes its files and a schema-valid run.json, leaves the model's files as they were, is the
 * same for the same seed, and the CLI gives one-line errors for bad options.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Ajv } from 'ajv';
import { initBackend } from '../../src/core/backend.js';
import { saveModel } from '../../src/core/model_io.js';
import { buildMnistCnn } from '../../src/mnist/model.js';
import { EXPLAINERS, DEFAULT_EXPLAIN_SETTINGS, type ImageContext } from '../../src/explain/registry.js';
import { randomizeLayers } from '../../src/explain/randomize.js';
import { mapSimilarity, runSanity, sanitySteps, type SanityOptions } from '../../src/explain/sanity.js';
import { lastJson, ROOT, runCli, tempDir } from '../helpers.js';

before(async () => {
  await initBackend();
});

const schema = JSON.parse(readFileSync(path.join(ROOT, 'docs', 'run-record.schema.json'), 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

/** [12, 12, 1] -> conv 'features' (4, same, relu) -> GAP -> dense 'logits' (3): Grad-CAM = ReLU(sum_k W[k,c] A^k) / HW. */
function camModel(): tf.LayersModel {
  const x = tf.input({ shape: [12, 12, 1] });
  const c = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'features', kernelInitializer: tf.initializers.glorotNormal({ seed: 5 }) }).apply(x) as tf.SymbolicTensor;
  const g = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(c) as tf.SymbolicTensor;
  const y = tf.layers.dense({ units: 3, name: 'logits', kernelInitializer: tf.initializers.glorotNormal({ seed: 6 }) }).apply(g) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: y });
}

/** Grad-CAM of class c in closed form from the model's current weights, scaled to [0, 1]. */
function closedFormGradCam(model: tf.LayersModel, input: tf.Tensor4D, c: number): Float32Array {
  return tf.tidy(() => {
    const a = model.getLayer('features').apply(input) as tf.Tensor4D; // [1, 12, 12, 4]
    const w = (model.getLayer('logits').getWeights()[0] as tf.Tensor2D).slice([0, c], [4, 1]).reshape([4]); // W[:, c]
    const cam = tf.relu(a.mul(w).sum(-1)).reshape([144]);
    const lo = cam.min();
    const hi = cam.max();
    return cam.sub(lo).div(hi.sub(lo)).dataSync() as Float32Array;
  });
}

test('randomising the logits layer: Grad-CAM follows the closed form with the new weights; Eigen-CAM is exactly unchanged', async () => {
  const model = camModel();
  const px = Float32Array.from({ length: 144 }, (_, i) => ((i * 37) % 17) / 17);
  const input = tf.tensor4d(px, [1, 12, 12, 1]);
  const grey = new Uint8Array(144 * 3).map((_, k) => Math.round(px[Math.floor(k / 3)] * 255));
  const ctx: ImageContext = { name: 'x', modelName: 'cam', model, input, display: { data: grey, width: 12, height: 12 }, classIndex: 1, label: 'class 1', probability: 0.5 };
  const explain = async (m: 'gradcam' | 'eigencam') => (await EXPLAINERS[m].explain(ctx, DEFAULT_EXPLAIN_SETTINGS)).pixelMap;
  const close = (a: Float32Array, b: Float32Array, what: string) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-5, `${what} pixel ${i}: ${v} vs ${b[i]}`));
  const before = tf.memory().numTensors;
  const gradOriginal = await explain('gradcam');
  const eigenOriginal = await explain('eigencam');
  close(gradOriginal, closedFormGradCam(model, input, 1), 'original Grad-CAM');
  const restore = randomizeLayers(model, ['logits'], 42);
  try {
    const gradRandom = await explain('gradcam');
    const eigenRandom = await explain('eigencam');
    close(gradRandom, closedFormGradCam(model, input, 1), 'randomised Grad-CAM');
    const grad = mapSimilarity(gradOriginal, gradRandom, 12, 12);
    assert.ok(grad.spearman < 0.9 && grad.ssim < 0.9, `Grad-CAM changed: ${JSON.stringify(grad)}`);
    assert.deepEqual(Array.from(eigenRandom), Array.from(eigenOriginal), 'Eigen-CAM reads nothing above its layer');
    assert.deepEqual(mapSimilarity(eigenOriginal, eigenRandom, 12, 12), { spearman: 1, spearmanSigned: 1, ssim: 1, constant: false });
  } finally {
    restore();
  }
  close(await explain('gradcam'), gradOriginal, 'restored Grad-CAM');
  assert.equal(tf.memory().numTensors, before, 'no leaked tensors (randomise + restore)');
  input.dispose();
  model.dispose();
});

test('mapSimilarity: |map| is compared, a constant randomised map has Spearman 0, two equal constant maps 1', () => {
  const a = Float32Array.from({ length: 144 }, (_, i) => Math.sin(i) * (i % 5));
  const flipped = mapSimilarity(a, a.map((v) => -v), 12, 12);
  assert.equal(flipped.spearman, 1, 'signs are dropped');
  assert.ok(flipped.spearmanSigned < -0.99, `the signed correlation sees the flip: ${flipped.spearmanSigned}`);
  const zero = new Float32Array(144);
  assert.deepEqual(mapSimilarity(a, zero, 12, 12).spearman, 0);
  assert.equal(mapSimilarity(a, zero, 12, 12).constant, true);
  assert.deepEqual(mapSimilarity(zero, zero, 12, 12), { spearman: 1, spearmanSigned: 1, ssim: 1, constant: false });
});

test('steps: original, the cascade from the top, all at once', () => {
  const groups = [{ name: 'fc', layers: ['fc'] }, { name: 'layer4.1', layers: ['layer4.1.conv1'] }, { name: 'conv1', layers: ['conv1'] }];
  assert.deepEqual(sanitySteps(groups, 2).map((s) => [s.depth, s.label, s.randomized.join(','), s.kind]), [
    [0, 'original', '', 'original'], [1, 'fc', 'fc', 'cascade'], [2, '+layer4.1', 'fc,layer4.1', 'cascade'], [3, 'all at once', 'fc,layer4.1,conv1', 'all'],
  ]);
});

function sha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

test('runSanity on an untrained MNIST CNN: files, scores, verdicts, run.json, model files untouched, deterministic', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const modelDir = path.join(dir, 'model');
  await saveModel(buildMnistCnn({ filters: [4, 8], denseUnits: 16 }), modelDir);
  const weights = sha(path.join(modelDir, 'weights.bin'));
  const opts = (out: string, seed = 1): SanityOptions => ({ model: modelDir, images: 2, methods: 'gradcam,eigencam,gradinput', out, seed, json: true, debug: false });
  const tensors = tf.memory().numTensors;
  const out = path.join(dir, 'a');
  const r = await runSanity(opts(out));
  assert.equal(tf.memory().numTensors, tensors, 'no leaked tensors');
  assert.equal(sha(path.join(modelDir, 'weights.bin')), weights, 'the model files are not written');
  assert.deepEqual(r.steps.map((s) => s.label), ['original', 'logits', '+dense1', '+conv2', '+conv1', 'all at once']);
  assert.equal(r.inputs, 'mnist');
  assert.deepEqual(r.images, ['digit0', 'digit1']);
  assert.equal(r.scores.length, 3 * 6);
  for (const s of r.scores.filter((x) => x.depth === 0)) assert.deepEqual([s.spearman, s.ssim], [1, 1], `${s.method}: the original against itself`);
  const at = (m: string, d: number) => r.scores.find((s) => s.method === m && s.depth === d)!;
  // Eigen-CAM at conv2 does not depend on dense1 or logits: exactly 1 until conv2 is randomised.
  assert.deepEqual([at('eigencam', 1).spearman, at('eigencam', 2).spearman], [1, 1]);
  assert.ok(at('eigencam', 3).spearman < 1, 'randomising conv2 changes Eigen-CAM');
  assert.ok(at('gradcam', 1).spearman < 1, 'randomising the logits changes Grad-CAM');
  const eigen = r.verdicts.find((v) => v.method === 'eigencam')!;
  assert.equal(eigen.passes, false);
  assert.equal(eigen.spearmanTop, 1);
  for (const v of r.verdicts) assert.equal(v.passes, v.spearmanTop < 0.5);
  const csv = readFileSync(r.csv, 'utf8').trim().split('\n');
  assert.equal(csv[0], 'method,depth,step,randomized,spearman_mean,spearman_se,spearman_signed_mean,ssim_mean,ssim_se,constant_maps,images');
  assert.equal(csv.length, 1 + 3 * 6);
  assert.ok(csv.some((l) => l.startsWith('gradcam,2,+dense1,logits;dense1,')), csv.join('\n'));
  assert.equal(readFileSync(r.perImageCsv, 'utf8').trim().split('\n').length, 1 + 3 * 6 * 2);
  for (const f of [r.plotPng, r.plotSvg, r.gridPng]) assert.ok(existsSync(f), f);
  const record = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { files: Record<string, unknown>; settings: Record<string, unknown> };
  assert.ok(validate(record), JSON.stringify(validate.errors?.slice(0, 3)));
  assert.deepEqual(Object.keys(record.files).sort(), ['sanity-grid.png', 'sanity.csv', 'sanity.png', 'sanity.svg', 'sanity_per_image.csv']);
  assert.equal(record.settings.depth, 4);

  const again = await runSanity(opts(path.join(dir, 'b')));
  assert.equal(readFileSync(again.csv, 'utf8'), readFileSync(r.csv, 'utf8'), 'the same seed gives the same numbers');
  const other = await runSanity({ ...opts(path.join(dir, 'c'), 2), depth: 1 });
  assert.deepEqual(other.steps.map((s) => s.label), ['original', 'logits', 'all at once']);
  assert.notEqual(other.scores.find((s) => s.method === 'gradcam' && s.depth === 1)!.spearman, at('gradcam', 1).spearman, 'another seed draws other weights');
});

test('CLI: explain-eval --sanity writes its files and --json; bad options give one line and exit 2, before writing', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const modelDir = path.join(dir, 'model');
  await saveModel(buildMnistCnn({ filters: [2, 4], denseUnits: 8 }), modelDir);
  const out = path.join(dir, 'out');
  const ok = await runCli(['explain-eval', '--sanity', '--model', modelDir, '--images', '1', '--methods', 'gradcam', '--depth', '1', '--out', out, '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const summary = lastJson(ok);
  assert.equal(summary.command, 'explain-eval --sanity');
  assert.ok(existsSync(path.join(out, 'sanity.csv')) && existsSync(path.join(out, 'sanity-grid.png')));
  const record = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { argv: string[] };
  assert.ok(validate(record), JSON.stringify(validate.errors?.slice(0, 3)));
  for (const [args, pattern] of [
    [['--sanity', '--depth', '9'], /--depth 9 is more than the 4 blocks/],
    [['--sanity', '--threshold', '1.5'], /--threshold/],
    [['--sanity', '--methods', 'nope'], /unknown method 'nope'/],
    [['--depth', '2'], /--depth is an option of explain-eval --sanity/],
    [['--sanity', '--group', 'row'], /--group/],
  ] as [string[], RegExp][]) {
    const badOut = path.join(dir, `bad-${args.join('')}`);
    const bad = await runCli(['explain-eval', '--model', modelDir, '--images', '1', '--out', badOut, ...args]);
    assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, pattern);
    assert.ok(!existsSync(badOut), `${args.join(' ')}: nothing written`);
  }
});

test('library: explainSanity returns the typed summary and checks options with the CLI parsers', { timeout: 60_000 }, async (t) => {
  const { explainSanity } = await import('../../src/index.js');
  const dir = tempDir(t);
  const modelDir = path.join(dir, 'model');
  await saveModel(buildMnistCnn({ filters: [2, 4], denseUnits: 8 }), modelDir);
  const r = await explainSanity({ out: path.join(dir, 'out'), model: modelDir, images: 1, methods: 'eigencam', depth: 1 });
  assert.equal(r.verdicts[0].method, 'eigencam');
  assert.equal(r.verdicts[0].spearmanTop, 1, 'Eigen-CAM does not see the logits layer');
  assert.ok(existsSync(path.join(dir, 'out', 'run.json')));
  await assert.rejects(explainSanity({ out: path.join(dir, 'bad'), model: modelDir, threshold: 2 }), /threshold/);
  assert.ok(!existsSync(path.join(dir, 'bad')));
});

test('the line figure draws methods with the same curves once (Grad-CAM = HiResCAM after global average pooling)', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const x = tf.input({ shape: [28, 28, 1] });
  const c = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'features', kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }).apply(x) as tf.SymbolicTensor;
  const g = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(c) as tf.SymbolicTensor;
  const y = tf.layers.dense({ units: 10, name: 'logits', kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }) }).apply(g) as tf.SymbolicTensor;
  const modelDir = path.join(dir, 'model');
  await saveModel(tf.model({ inputs: x, outputs: y }), modelDir);
  const r = await runSanity({ model: modelDir, images: 2, methods: 'gradcam,hirescam,eigencam', out: path.join(dir, 'out'), seed: 1, json: true, debug: false });
  const svg = readFileSync(r.plotSvg, 'utf8');
  assert.match(svg, /gradcam = hirescam \((pass|fail)\)/);
  assert.doesNotMatch(svg, />hirescam \(/, 'no separate HiResCAM line');
  assert.match(svg, />eigencam \(fail\)</, 'a different curve keeps its own line');
});
