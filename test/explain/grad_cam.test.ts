import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { UsageError } from '../../src/core/errors.js';
import { GradCam } from '../../src/explain/grad_cam.js';
import { defaultTargetLayer, findTargetLayer, resolveClassIndex, scaleToUnit, upsampleBilinear } from '../../src/explain/base.js';
import { evaluate, feedInput, forwardLogits, layerOutput } from '../../src/explain/graph.js';
import { camCnn, maxAbsDiff, randomInput, sequentialCnn, skipCnn } from './tiny_models.js';

before(async () => {
  await initBackend();
});

test('Grad-CAM of conv -> GAP -> dense equals the closed form ReLU(sum_k W[k,c] A^k), scaled', () => {
  const model = camCnn();
  const x = randomInput([1, 8, 8, 2]);
  const cam = new GradCam(model, { layer: 'features' });
  for (const c of [0, 1, 2]) {
    const [r] = cam.compute(x, [c]);
    // By hand: d y^c / d A^k_ij = W[k, c] / 64, so alpha_k = W[k, c] / 64.
    const expected = tf.tidy(() => {
      const A = (model.getLayer('features').apply(x) as tf.Tensor4D);
      const W = model.getLayer('fc').getWeights()[0]; // [5, 3]
      const wc = W.slice([0, c], [5, 1]).reshape([1, 1, 1, 5]);
      const m = tf.relu(A.mul(wc).sum(3)) as tf.Tensor3D;
      return scaleToUnit(m).dataSync();
    });
    assert.equal(r.camHeight, 8);
    assert.equal(r.camWidth, 8);
    assert.ok(maxAbsDiff(r.cam, expected) < 1e-5, `class ${c}`);
    assert.equal(r.layer, 'features');
    assert.equal(r.classIndex, c);
  }
  x.dispose();
});

test('the eager executor reproduces model.predict, and pre-softmax logits are used', () => {
  const soft = sequentialCnn('softmax');
  const lin = sequentialCnn('linear');
  lin.setWeights(soft.getWeights());
  const x = randomInput([2, 12, 12, 1]);
  const diff = tf.tidy(() => {
    const logits = forwardLogits(soft, x);
    const predicted = lin.predict(x) as tf.Tensor;
    const probs = soft.predict(x) as tf.Tensor;
    return [maxAbsDiff(logits.dataSync(), predicted.dataSync()), maxAbsDiff(tf.softmax(logits).dataSync(), probs.dataSync())];
  });
  assert.ok(diff[0] < 1e-5 && diff[1] < 1e-6, `diffs ${diff}`);
  // Grad-CAM on the softmax model equals Grad-CAM on its linear twin (the logit is explained).
  const a = new GradCam(soft).compute(x);
  const b = new GradCam(lin).compute(x);
  for (let i = 0; i < 2; i++) {
    assert.equal(a[i].classIndex, b[i].classIndex);
    assert.ok(maxAbsDiff(a[i].cam, b[i].cam) < 1e-5);
    assert.ok(Math.abs(a[i].logit - b[i].logit) < 1e-5);
  }
  x.dispose();
});

test('gradients through a skip connection match finite differences of the logit', () => {
  const model = skipCnn();
  const x = randomInput([1, 10, 10, 3], 5);
  const target = layerOutput(model.getLayer('relu'));
  const fc = model.outputs[0];
  const c = 2;
  const { grad, fd } = tf.tidy(() => {
    const memo = feedInput(model, x);
    const A = evaluate(target, memo);
    const f = (a: tf.Tensor) => {
      const fed = new Map(memo);
      fed.set(target.id, a);
      return evaluate(fc, fed).slice([0, c], [1, 1]).sum() as tf.Scalar;
    };
    const g = tf.grad(f)(A).dataSync();
    const base = A.dataSync();
    const idx = [0, 37, 123, 250, 399];
    const eps = 1e-2;
    const fdv: number[] = [];
    const gv: number[] = [];
    for (const i of idx) {
      const plus = Float32Array.from(base);
      const minus = Float32Array.from(base);
      plus[i] += eps;
      minus[i] -= eps;
      const vp = f(tf.tensor(plus, A.shape)).dataSync()[0];
      const vm = f(tf.tensor(minus, A.shape)).dataSync()[0];
      fdv.push((vp - vm) / (2 * eps));
      gv.push(g[i]);
    }
    return { grad: gv, fd: fdv };
  });
  assert.ok(maxAbsDiff(grad, fd) < 2e-3, `grad ${grad} vs fd ${fd}`);
  // The skip branch matters: the gradient with respect to 'a' differs from the one through 'b' alone.
  const r = new GradCam(model, { layer: 'relu' }).compute(x, [c]);
  assert.equal(r[0].camHeight, 10);
  x.dispose();
});

test('batched compute equals one image at a time; default class is the top-1', () => {
  const model = skipCnn();
  const x = randomInput([3, 10, 10, 3], 9);
  const cam = new GradCam(model);
  const batch = cam.compute(x);
  const top1 = tf.tidy(() => Array.from((model.predict(x) as tf.Tensor).argMax(1).dataSync()));
  for (let i = 0; i < 3; i++) {
    const xi = x.slice([i, 0, 0, 0], [1, 10, 10, 3]);
    const [one] = cam.compute(xi);
    xi.dispose();
    assert.equal(batch[i].classIndex, top1[i]);
    assert.equal(one.classIndex, top1[i]);
    assert.ok(maxAbsDiff(batch[i].cam, one.cam) < 1e-5);
    const lo = Math.min(...one.cam);
    const hi = Math.max(...one.cam);
    assert.ok(lo >= 0 && hi <= 1 + 1e-6);
    if (one.rawMax > 0) assert.ok(Math.abs(hi - 1) < 1e-6 && lo === 0);
  }
  x.dispose();
});

test('target layer: default is the rectified output of the last conv; unknown and non 4-D names are usage errors', () => {
  assert.equal(defaultTargetLayer(sequentialCnn()).name, 'conv2');
  assert.equal(defaultTargetLayer(skipCnn()).name, 'c');
  assert.equal(defaultTargetLayer(camCnn()).name, 'features');
  assert.throws(() => findTargetLayer(skipCnn(), 'nope'), (e: Error) => e instanceof UsageError && /no such layer.*a, b, add, relu, c/.test(e.message));
  assert.throws(() => findTargetLayer(skipCnn(), 'fc'), (e: Error) => e instanceof UsageError && /not 4-D/.test(e.message));
  assert.throws(() => new GradCam(sequentialCnn(), { layer: 'flatten' }), UsageError);
});

test('class resolution: index range and labels', () => {
  assert.equal(resolveClassIndex(undefined, 10), undefined);
  assert.equal(resolveClassIndex('3', 10), 3);
  assert.throws(() => resolveClassIndex('10', 10), (e: Error) => e instanceof UsageError && /out of range.*0-9/.test(e.message));
  const names = ['tench, Tinca tinca', 'tabby, tabby cat', 'coffee mug'];
  assert.equal(resolveClassIndex('tabby cat', 3, names), 1);
  assert.equal(resolveClassIndex('Coffee Mug', 3, names), 2);
  assert.throws(() => resolveClassIndex('cat', 3, names), /did you mean 'tabby, tabby cat'/);
  assert.throws(() => resolveClassIndex('cat', 3), /no class names/);
  assert.throws(() => new GradCam(skipCnn()).compute(tf.zeros([1, 10, 10, 3]) as tf.Tensor4D, [4]), UsageError);
});

test('bilinear upsampling keeps a constant map and interpolates with half-pixel centres', () => {
  const up = upsampleBilinear(new Float32Array([0, 1]), 1, 2, 1, 4);
  assert.ok(maxAbsDiff(up, [0, 0.25, 0.75, 1]) < 1e-6);
  const c = upsampleBilinear(new Float32Array(4).fill(0.5), 2, 2, 7, 5);
  assert.ok(maxAbsDiff(c, new Float32Array(35).fill(0.5)) < 1e-6);
});

test('no tensor leaks across repeated Grad-CAM calls', () => {
  const model = skipCnn();
  const x = randomInput([2, 10, 10, 3]);
  const cam = new GradCam(model);
  cam.compute(x); // warm-up (lazy weight reads)
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) cam.compute(x, [1, 2]);
  upsampleBilinear(new Float32Array(4), 2, 2, 4, 4);
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});
