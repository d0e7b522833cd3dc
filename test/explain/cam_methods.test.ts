/**
 * The CAM variants on tiny models whose answers can be worked out by hand, without the PyTorch
 * oracle (cam_parity.test.ts has that): on conv -> GAP -> dense the gradient is W[k, c] / Z at
 * every position, so HiResCAM and XGrad-CAM equal Grad-CAM, LayerCAM keeps only positive W, and
 * Ablation-CAM's weights are W[k, c] mean(A^k) / y^c. Batched perturbation methods equal their
 * one-at-a-time runs, also through a skip connection; the SVD helper of Eigen-CAM on known matrices.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { scaleToUnit, type CamClass } from '../../src/explain/base.js';
import { GradCam } from '../../src/explain/grad_cam.js';
import { GradCamPlusPlus } from '../../src/explain/grad_cam_plus_plus.js';
import { XGradCam } from '../../src/explain/xgrad_cam.js';
import { HiResCam } from '../../src/explain/hires_cam.js';
import { LayerCam } from '../../src/explain/layer_cam.js';
import { EigenCam, firstRightSingularVector } from '../../src/explain/eigen_cam.js';
import { ScoreCam } from '../../src/explain/score_cam.js';
import { AblationCam } from '../../src/explain/ablation_cam.js';
import { camCnn, maxAbsDiff, randomInput, skipCnn } from './tiny_models.js';

before(async () => {
  await initBackend();
});

/** ReLU(sum_k weights[k] A^k) scaled, for the camCnn's 'features' layer. */
function closedForm(model: tf.LayersModel, x: tf.Tensor4D, weights: (A: tf.Tensor4D, W: tf.Tensor2D) => tf.Tensor): Float32Array {
  return tf.tidy(() => {
    const A = model.getLayer('features').apply(x) as tf.Tensor4D; // [1, 8, 8, 5]
    const W = model.getLayer('fc').getWeights()[0] as tf.Tensor2D; // [5, 3]
    return scaleToUnit(tf.relu(A.mul(weights(A, W).reshape([1, 1, 1, 5])).sum(3)) as tf.Tensor3D).dataSync() as Float32Array;
  });
}

test('conv -> GAP -> dense: HiResCAM = XGrad-CAM = Grad-CAM; LayerCAM keeps positive W; Ablation-CAM = W mean(A) / y', () => {
  const model = camCnn(4);
  const x = randomInput([1, 8, 8, 2], 21);
  const c = 2;
  const column = (W: tf.Tensor2D) => W.slice([0, c], [5, 1]).reshape([5]);
  const cases: Array<[CamClass, (A: tf.Tensor4D, W: tf.Tensor2D) => tf.Tensor]> = [
    [GradCam, (_A, W) => column(W)],
    [HiResCam, (_A, W) => column(W)],
    [XGradCam, (_A, W) => column(W)],
    [LayerCam, (_A, W) => tf.relu(column(W))],
    [AblationCam, (A, W) => column(W).mul(A.mean([0, 1, 2]))], // / y^c: a positive or negative constant
  ];
  const logit = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync()[c]);
  for (const [Cam, weights] of cases) {
    const [r] = new Cam(model, { layer: 'features', batch: 2 }).compute(x, [c]);
    const sign = Cam === AblationCam && logit < 0 ? -1 : 1;
    const expected = closedForm(model, x, (A, W) => weights(A, W).mul(sign));
    const d = maxAbsDiff(r.cam, expected);
    assert.ok(d < 1e-4, `${Cam.title}: max difference ${d}`);
    assert.ok(r.rawMax > 0, `${Cam.title}: not vacuous`);
  }
  x.dispose();
});

test('Grad-CAM++ on conv -> GAP -> dense: w_k = sum_ij g^2 / (2 g^2 + S_k g^3) relu(g), g = W[k,c] / 64', () => {
  const model = camCnn(5);
  const x = randomInput([1, 8, 8, 2], 22);
  const c = 0;
  const [r] = new GradCamPlusPlus(model, { layer: 'features' }).compute(x, [c]);
  const expected = closedForm(model, x, (A, W) => {
    const g = W.slice([0, c], [5, 1]).reshape([5]).div(64);
    const S = A.sum([0, 1, 2]); // [5]
    const denom = g.square().mul(2).add(S.mul(g.pow(3)));
    return g.square().div(tf.where(denom.notEqual(0), denom, tf.onesLike(denom))).mul(tf.relu(g)).mul(64);
  });
  assert.ok(maxAbsDiff(r.cam, expected) < 1e-4);
  x.dispose();
});

test('Score-CAM and Ablation-CAM: batched equals one at a time, through a skip connection', () => {
  const model = skipCnn(9);
  const x = randomInput([2, 10, 10, 3], 23);
  for (const Cam of [ScoreCam, AblationCam]) {
    for (const layer of ['b', 'relu', 'c']) { // 'b': the add after it reads the skip branch 'a'
      const one = new Cam(model, { layer, batch: 1 }).compute(x, [1, 2]);
      const many = new Cam(model, { layer, batch: 3 }).compute(x, [1, 2]);
      for (let i = 0; i < 2; i++) {
        assert.ok(maxAbsDiff(one[i].channelWeights!, many[i].channelWeights!) < 1e-5, `${Cam.title} ${layer} image ${i}`);
        assert.ok(maxAbsDiff(one[i].cam, many[i].cam) < 1e-5);
      }
    }
  }
  const [s] = new ScoreCam(model, { layer: 'relu' }).compute(x.slice([0, 0, 0, 0], [1, 10, 10, 3]), [0]);
  assert.ok(s.channelWeights!.every((w) => w >= 0 && w <= 1));
  assert.ok(Math.abs(s.channelWeights!.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'softmax over the channels');
  x.dispose();
});

test('Ablation-CAM weights are the relative drops of the logit when each channel is zeroed', () => {
  const model = skipCnn(11);
  const x = randomInput([1, 10, 10, 3], 24);
  const [r] = new AblationCam(model, { layer: 'c' }).compute(x, [3]);
  // 'c' feeds GAP -> fc: zeroing channel k removes W[k, 3] mean(A^k) from the logit.
  const expected = tf.tidy(() => {
    const sub = tf.model({ inputs: model.inputs, outputs: model.getLayer('c').output as tf.SymbolicTensor });
    const A = sub.predict(x) as tf.Tensor4D;
    const W = model.getLayer('fc').getWeights()[0];
    const y = (model.predict(x) as tf.Tensor).dataSync()[3];
    return A.mean([0, 1, 2]).mul(W.slice([0, 3], [5, 1]).reshape([5])).div(y).dataSync();
  });
  assert.ok(maxAbsDiff(r.channelWeights!, expected) < 1e-4, `${r.channelWeights} vs ${expected}`);
  x.dispose();
});

test('Eigen-CAM: first right singular vector of known matrices, signed by the projection; class-independent', () => {
  // diag(3, 1) padded: v1 = e1; its negative: v1 = -e1 (so that O v1 sums >= 0).
  assert.ok(maxAbsDiff(firstRightSingularVector([3, 0, 0, 1, 0, 0], 3, 2), [1, 0]) < 1e-12);
  assert.ok(maxAbsDiff(firstRightSingularVector([-3, 0, 0, -1], 2, 2), [-1, 0]) < 1e-12);
  // Rank one u v^T: v1 = v / |v|.
  const u = [1, 2, 0.5, -1];
  const v = [0.6, 0.8, 0];
  const o = u.flatMap((a) => v.map((b) => a * b));
  const v1 = firstRightSingularVector(o, 4, 3);
  assert.ok(maxAbsDiff(v1, v) < 1e-12, `${v1}`);
  const model = skipCnn(12);
  const x = randomInput([1, 10, 10, 3], 25);
  const cam = new EigenCam(model, { layer: 'relu' });
  assert.deepEqual(Array.from(cam.compute(x, [0])[0].cam), Array.from(cam.compute(x, [3])[0].cam));
  x.dispose();
});
