/**
 * SmoothGrad, Saliency, RISE and the CAM smoothing options without an oracle: closed forms on tiny
 * models and properties (the PyTorch comparisons are in smooth_rise_parity.test.ts).
 *  - SmoothGrad with zero noise is its base method (saliency, Gradient x Input, Integrated Gradients);
 *    on a model linear in its input it is exact for any noise (the gradient is the weight);
 *    batching and the seed: same seed same map, batch size irrelevant.
 *  - RISE: masks in [0, 1] with mean ~ p; a constant-output model gives P_c * (mean mask / p) per
 *    pixel, flat up to the masks' sampling noise; the batch size does not change the map.
 *  - Eigen-smooth: the closed form on a rank-one weighted matrix; aug-smooth: the mean of the six
 *    augmentations' maps, flipped back; every CAM keeps the [0, 1] contract with both, no leaks.
 *  - Options: bad values are one-line usage errors naming the flag.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { UsageError } from '../../src/core/errors.js';
import { AUGMENTATIONS, eigenSmoothMap } from '../../src/explain/base.js';
import { GradCam } from '../../src/explain/grad_cam.js';
import { GradientTimesInput } from '../../src/explain/gradient_x_input.js';
import { IntegratedGradients } from '../../src/explain/integrated_gradients.js';
import { Saliency } from '../../src/explain/saliency.js';
import { SmoothGrad, standardNormals, type SmoothBaseName } from '../../src/explain/smoothgrad.js';
import { Rise, riseMasks } from '../../src/explain/rise.js';
import { DEFAULT_EXPLAIN_SETTINGS, EXPLAINERS } from '../../src/explain/registry.js';
import { CAM_OPTIONS, RISE_OPTIONS, SMOOTHGRAD_OPTIONS } from '../../src/explain/options.js';
import { runCli, tempDir } from '../helpers.js';
import { createRng } from '../../src/core/rng.js';
import { saveModel } from '../../src/core/model_io.js';
import { maxAbsDiff, randomInput, sequentialCnn, skipCnn } from './tiny_models.js';

before(async () => {
  await initBackend();
});

/** [h, w, c] -> flatten -> dense(classes, linear): y = W^T x + b, so d y^c / dx = W[:, c] everywhere. */
function linearModel(h: number, w: number, c: number, classes = 3, constant = false): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.flatten({ inputShape: [h, w, c] }));
  m.add(tf.layers.dense({
    units: classes,
    kernelInitializer: constant ? tf.initializers.zeros() : tf.initializers.glorotNormal({ seed: 5 }),
    biasInitializer: tf.initializers.constant({ value: 0.3 }),
  }));
  if (constant) m.layers[1].setWeights([tf.zeros([h * w * c, classes]), tf.tensor1d([1, 2, 3].slice(0, classes))]);
  return m;
}

test('SmoothGrad with zero noise equals its base method (saliency, Gradient x Input, Integrated Gradients)', () => {
  for (const [model, shape] of [[skipCnn(4), [1, 10, 10, 3]], [sequentialCnn('softmax', 2), [1, 12, 12, 1]]] as const) {
    const x = randomInput([...shape], 3);
    const baseline = tf.zerosLike(x);
    const normals = standardNormals(1, 5 * x.size);
    const bases: Record<SmoothBaseName, Float32Array> = {
      saliency: new Saliency(model).explain(x, 1).pixelMap,
      gradinput: new GradientTimesInput(model).explain(x, 1).pixelMap,
      ig: new IntegratedGradients(model, { steps: 8, batch: 4 }).explain(x, baseline, 1).pixelMap,
    };
    for (const [base, expected] of Object.entries(bases) as Array<[SmoothBaseName, Float32Array]>) {
      const r = new SmoothGrad(model, { base, noise: 0, batch: 2, igSteps: 8 }).explain(x, 1, normals, baseline);
      const scale = Math.max(...expected.map(Math.abs));
      assert.ok(scale > 0, `${base}: a non-zero map`);
      assert.ok(maxAbsDiff(r.pixelMap, expected) <= 1e-5 * scale, `${base}: ${maxAbsDiff(r.pixelMap, expected)}`);
      assert.equal(r.samples, 5);
      // ... and with noise it differs (the test could fail).
      const noisy = new SmoothGrad(model, { base, noise: 0.2, batch: 2, igSteps: 8 }).explain(x, 1, normals, baseline);
      assert.ok(maxAbsDiff(noisy.pixelMap, expected) > 1e-3 * scale, `${base}: noise changes the map`);
    }
    tf.dispose([x, baseline]);
  }
});

test('SmoothGrad on a model linear in its input: saliency = |W[:, c]| and Gradient x Input = (x + mean eps) W[:, c], for any noise', () => {
  const model = linearModel(4, 5, 2);
  const x = randomInput([1, 4, 5, 2], 9);
  const w = (model.layers[1].getWeights()[0].arraySync() as number[][]).map((row) => row[2]); // [40] W[:, 2] in NHWC order
  const n = 7;
  const normals = standardNormals(3, n * 40);
  const sg = new SmoothGrad(model, { base: 'saliency', noise: 0.3, batch: 3 }).explain(x, 2, normals);
  const expectedSaliency = Array.from({ length: 20 }, (_, p) => Math.max(Math.abs(w[2 * p]), Math.abs(w[2 * p + 1])));
  assert.ok(maxAbsDiff(sg.pixelMap, expectedSaliency) < 1e-6, 'saliency: |W| whatever the noise');
  const gi = new SmoothGrad(model, { base: 'gradinput', noise: 0.3, batch: 3 }).explain(x, 2, normals);
  const xs = x.dataSync();
  const range = Math.max(...xs) - Math.min(...xs);
  assert.ok(Math.abs(gi.sigma - 0.3 * range) < 1e-6, 'sigma = noise x (max - min)');
  const expected = Array.from({ length: 20 }, (_, p) => [0, 1].reduce((s, k) => {
    let meanEps = 0;
    for (let i = 0; i < n; i++) meanEps += normals[i * 40 + 2 * p + k] / n;
    return s + (xs[2 * p + k] + gi.sigma * meanEps) * w[2 * p + k];
  }, 0));
  assert.ok(maxAbsDiff(gi.pixelMap, expected) < 1e-5, `gradinput: ${maxAbsDiff(gi.pixelMap, expected)}`);
  x.dispose();
});

test('SmoothGrad and RISE through the registry: deterministic per seed, batch size irrelevant, no leaks', async () => {
  const model = skipCnn(6);
  const x = randomInput([1, 10, 10, 3], 4);
  const ctx = { name: 'x', modelName: 'm', model, input: x, display: { data: new Uint8Array(300), width: 10, height: 10 }, classIndex: 2, label: '2', probability: 0.5 };
  for (const name of ['smoothgrad', 'rise'] as const) {
    const s = { ...DEFAULT_EXPLAIN_SETTINGS, smoothSamples: 6, masks: 50, riseGrid: 3 };
    const a = (await EXPLAINERS[name].explain(ctx, { ...s, batch: 4 })).pixelMap;
    const before = tf.memory().numTensors;
    const b = (await EXPLAINERS[name].explain(ctx, { ...s, batch: 7 })).pixelMap;
    assert.equal(tf.memory().numTensors, before, `${name}: no leaked tensors`);
    const c = (await EXPLAINERS[name].explain(ctx, { ...s, batch: 4, seed: 7 })).pixelMap;
    const scale = Math.max(...a.map(Math.abs));
    assert.ok(maxAbsDiff(a, b) <= 1e-5 * scale, `${name}: batch 4 = batch 7 (${maxAbsDiff(a, b)})`);
    assert.ok(maxAbsDiff(a, c) > 1e-3 * scale, `${name}: another seed, other draws`);
  }
  const before = tf.memory().numTensors;
  new Saliency(model).explain(x, 1);
  new SmoothGrad(model, { base: 'ig', noise: 0.1, batch: 3, igSteps: 4 }).explain(x, 1, standardNormals(1, 2 * x.size), x);
  assert.equal(tf.memory().numTensors, before, 'Saliency, SmoothGrad (ig): no leaked tensors');
  x.dispose();
});

test('RISE masks: values in [0, 1], mean ~ p, soft edges; the first masks do not depend on how many are drawn', () => {
  for (const [h, w, s, p] of [[28, 28, 7, 0.5], [30, 22, 4, 0.3]] as const) {
    const n = 400;
    const masks = riseMasks(11, n, h, w, s, p);
    assert.equal(masks.length, n * h * w);
    assert.ok(masks.every((v) => v >= 0 && v <= 1));
    const mean = masks.reduce((a, b) => a + b, 0) / masks.length;
    // Each mask's mean has sd ~ sqrt(p(1-p)/s^2) (s^2 cells); over n masks the sd is /sqrt(n).
    const sd = Math.sqrt(p * (1 - p) / (s * s * n));
    assert.ok(Math.abs(mean - p) < 4 * sd, `mean ${mean} vs p = ${p} (sd ${sd.toExponential(1)})`);
    assert.ok(masks.some((v) => v > 0 && v < 1), 'bilinear: soft edges');
    assert.deepEqual(riseMasks(11, 10, h, w, s, p), masks.slice(0, 10 * h * w), 'the first masks do not depend on how many are drawn');
  }
});

test('RISE masks = the paper\'s construction with tf.image.resizeBilinear: s x s cells ~ Bernoulli(p), upsampled to (s+1) C, cropped at (dy, dx)', () => {
  for (const [h, w, s, p] of [[28, 28, 7, 0.5], [30, 22, 4, 0.3]] as const) {
    const n = 5;
    const ours = riseMasks(9, n, h, w, s, p);
    const rng = createRng(9);
    const [ch, cw] = [Math.ceil(h / s), Math.ceil(w / s)];
    for (let i = 0; i < n; i++) {
      const cells = Array.from({ length: s * s }, () => (rng.next() < p ? 1 : 0));
      const [dy, dx] = [rng.int(ch), rng.int(cw)];
      const expected = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(cells, [1, s, s, 1]), [(s + 1) * ch, (s + 1) * cw], false, true).slice([0, dy, dx, 0], [1, h, w, 1]).dataSync());
      assert.ok(maxAbsDiff(ours.subarray(i * h * w, (i + 1) * h * w), expected) < 1e-6, `${h}x${w} s=${s} mask ${i}`);
    }
  }
});

test('RISE on a constant-output model: S = P_c * mean mask / p, flat up to sampling noise; batching does not matter; a left-half model is brighter on the left', () => {
  const model = linearModel(12, 12, 1, 3, true);
  const x = randomInput([1, 12, 12, 1], 2);
  const pc = Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3));
  const n = 2000;
  const r = new Rise(model, { masks: n, grid: 4, p: 0.5, batch: 256 }).explain(x, 2, 5);
  assert.ok(Math.abs(r.probability - pc) < 1e-6);
  const masks = riseMasks(5, n, 12, 12, 4, 0.5);
  const expected = Array.from({ length: 144 }, (_, q) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += masks[i * 144 + q];
    return (pc * s) / (n * 0.5);
  });
  assert.ok(maxAbsDiff(r.pixelMap, expected) < 1e-4, `closed form: ${maxAbsDiff(r.pixelMap, expected)}`);
  const spread = Math.max(...r.pixelMap.map((v) => Math.abs(v / pc - 1)));
  assert.ok(spread < 0.1, `flat within 10% at ${n} masks: ${spread}`);
  const small = new Rise(model, { masks: n, grid: 4, p: 0.5, batch: 7 }).explain(x, 2, 5);
  assert.ok(maxAbsDiff(small.pixelMap, r.pixelMap) < 1e-5, 'batch 7 = batch 256');
  // A model that reads only the left half: the evidence is on the left (the test could fail).
  const left = linearModel(12, 12, 1, 3, true);
  left.layers[1].setWeights([tf.tensor2d(Array.from({ length: 144 }, (_, q) => [q % 12 < 6 ? 0.03 : 0, 0, 0])), tf.tensor1d([0, 0, 0])]);
  const ones = tf.ones([1, 12, 12, 1]) as tf.Tensor4D;
  // S_left - S_right = Cov(P_c, M(left pixel)) / p ~ 0.03 here; the halves' means have sd ~ 0.004 at 2000 masks.
  const map = new Rise(left, { masks: 2000, grid: 4, p: 0.5, batch: 256 }).explain(ones, 0, 5).pixelMap;
  const half = (l: boolean) => map.filter((_, q) => (q % 12 < 6) === l).reduce((a, b) => a + b, 0) / 72;
  assert.ok(half(true) - half(false) > 0.015, `left ${half(true)} vs right ${half(false)}`);
  tf.dispose([ones]);
  x.dispose();
});

test('eigen-smooth: on X = 1 m^T + u w^T (sum u = 0) the map is u |w| sign(sum w)', () => {
  const [h, w, k] = [3, 4, 5];
  const u = Array.from({ length: h * w }, (_, p) => Math.sin(p + 1));
  const uMean = u.reduce((a, b) => a + b, 0) / u.length;
  const uc = u.map((v) => v - uMean); // sum 0
  for (const weights of [[0.5, -0.2, 0.9, 0.1, 0.3], [-0.5, 0.2, -0.9, -0.1, 0.3]]) {
    const m = [0.2, 1, -0.4, 0.7, 0.1];
    const data = new Float32Array(h * w * k);
    for (let p = 0; p < h * w; p++) for (let c = 0; c < k; c++) data[p * k + c] = m[c] + uc[p] * weights[c];
    const x = tf.tensor4d(data, [1, h, w, k]);
    const map = eigenSmoothMap(x);
    const norm = Math.hypot(...weights);
    const sign = Math.sign(weights.reduce((a, b) => a + b, 0));
    const expected = uc.map((v) => v * norm * sign);
    assert.ok(maxAbsDiff(map.dataSync(), expected) < 1e-5, `weights ${weights}: ${maxAbsDiff(map.dataSync(), expected)}`);
    tf.dispose([x, map]);
  }
});

test('aug-smooth = the mean of the six augmentations\' maps (flip x intensity 0.9, 1, 1.1), each flipped back, rescaled', () => {
  const model = skipCnn(3);
  const x = randomInput([2, 10, 10, 3], 5);
  const smooth = new GradCam(model, { layer: 'relu', augSmooth: true }).compute(x, [1, 2]);
  assert.equal(AUGMENTATIONS.length, 6);
  const plain = new GradCam(model, { layer: 'relu' });
  const sums = [new Float64Array(100), new Float64Array(100)];
  for (const { flip, factor } of AUGMENTATIONS) {
    const xa = tf.tidy(() => (flip ? tf.reverse(x, 2) : x).mul(factor) as tf.Tensor4D);
    plain.compute(xa, [1, 2]).forEach((r, b) => r.cam.forEach((v, i) => (sums[b][flip ? Math.floor(i / 10) * 10 + 9 - (i % 10) : i] += v / 6)));
    xa.dispose();
  }
  smooth.forEach((r, b) => {
    const lo = Math.min(...sums[b]);
    const hi = Math.max(...sums[b]);
    assert.ok(hi > lo);
    assert.ok(maxAbsDiff(r.cam, Array.from(sums[b], (v) => (v - lo) / (hi - lo))) < 1e-5, `image ${b}`);
    assert.ok(Math.abs(r.rawMax - hi) < 1e-5);
  });
  assert.ok(maxAbsDiff(smooth[0].cam, plain.compute(x, [1, 2])[0].cam) > 1e-3, 'differs from the plain map');
  x.dispose();
});

test('every CAM with --aug-smooth and --eigen-smooth: maps in [0, 1] scaled to max 1, batches = one at a time, no leaks', () => {
  const model = skipCnn(5);
  const x = randomInput([2, 10, 10, 3], 8);
  const cams = Object.values(EXPLAINERS).filter((e) => e.kind === 'cam').map((e) => e.cam!);
  for (const Cam of cams) {
    for (const opts of [{ eigenSmooth: true }, { augSmooth: true }, { augSmooth: true, eigenSmooth: true }]) {
      const cam = new Cam(model, { layer: 'relu', batch: 3, ...opts });
      cam.compute(x, [0, 3]); // warm-up
      const before = tf.memory().numTensors;
      const rs = cam.compute(x, [0, 3]);
      assert.equal(tf.memory().numTensors, before, `${Cam.title} ${JSON.stringify(opts)}: no leaks`);
      const one = cam.compute(x.slice([1, 0, 0, 0], [1, 10, 10, 3]), [3]);
      assert.ok(maxAbsDiff(one[0].cam, rs[1].cam) < 1e-5, `${Cam.title} ${JSON.stringify(opts)}: batch = one image`);
      for (const r of rs) {
        assert.ok(r.cam.every((v) => v >= 0 && v <= 1), Cam.title);
        if (r.rawMax > 0) assert.ok(Math.abs(Math.max(...r.cam) - 1) < 1e-6, `${Cam.title}: scaled to max 1`);
      }
    }
  }
  x.dispose();
});

test('options: defaults, and bad values are one-line usage errors naming the flag', async (t) => {
  const d = DEFAULT_EXPLAIN_SETTINGS;
  assert.deepEqual(SMOOTHGRAD_OPTIONS.resolve({}, d), { igSteps: d.igSteps, igBaseline: d.igBaseline, smoothSamples: 16, noise: 0.15, smoothBase: 'saliency' });
  assert.deepEqual(RISE_OPTIONS.resolve({}, d), { masks: 1000, riseGrid: 7, riseP: 0.5 });
  assert.deepEqual(CAM_OPTIONS.resolve({ eigenSmooth: true }, d), { layer: undefined, augSmooth: false, eigenSmooth: true });
  assert.throws(() => SMOOTHGRAD_OPTIONS.resolve({ smoothBase: 'lrp' }, d), (e: Error) => e instanceof UsageError && /--smooth-base lrp: use one of saliency, gradinput, ig/.test(e.message));
  assert.throws(() => RISE_OPTIONS.resolve({ riseP: 0 }, d), (e: Error) => e instanceof UsageError && /--rise-p/.test(e.message));
  assert.throws(() => RISE_OPTIONS.check({ ...d, riseGrid: 30 }, [28, 28, 1]), (e: Error) => e instanceof UsageError && /--rise-grid 30 .*at most 28/.test(e.message));
  const noise = SMOOTHGRAD_OPTIONS.options.find((o) => o.flags.startsWith('--noise'))!;
  assert.equal(noise.parse!('0.2'), 0.2);
  for (const bad of ['-0.1', 'abc', '', 'NaN']) assert.throws(() => noise.parse!(bad), (e: Error) => e instanceof InvalidArgumentError && /--noise/.test(e.message), bad);
  const dir = tempDir(t);
  await saveModel(sequentialCnn('softmax', 2), `${dir}/m`);
  const r = await runCli(['explain', '--methods', 'rise', '--rise-p', '1.5', '--model', `${dir}/m`, '--out', `${dir}/o`, 'x.png']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--rise-p must be a probability/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});
