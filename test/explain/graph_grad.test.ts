/**
 * The eager executor (src/explain/graph.ts) under a gradient tape runs Conv2D layers as plain
 * tf.conv2d + bias + activation and folds a preceding ZeroPadding2D into the convolution's
 * explicit padding. Checked here: the input gradient and the logits equal those of the model's
 * own layers (tf.fused.conv2d after PadV2) on a small model with every variant (bias or not,
 * 'same'/'valid', stride 2, relu, a padded tensor used twice) and on ResNet-18; the gradient run
 * contains no PadV2 and no FusedConv2D (else the speed-up silently went away); and feeding a
 * padded tensor (Grad-CAM on a ZeroPadding2D layer) still differentiates with respect to it.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { buildResnet18 } from '../../src/models/resnet18.js';
import { evaluate, feedInput, forwardLogits, layerOutput } from '../../src/explain/graph.js';
import { maxAbsDiff, randomInput } from './tiny_models.js';

before(async () => {
  await initBackend('wasm');
});

const init = (seed: number) => tf.initializers.glorotNormal({ seed });

/** pad -> conv(valid, bias) -> BN -> relu -> pad -> conv(stride 2, no bias) -> conv(same, relu) + pad-branch -> GAP -> dense. */
function paddedCnn(): tf.LayersModel {
  const x = tf.input({ shape: [11, 11, 3], name: 'image' });
  const p1 = tf.layers.zeroPadding2d({ padding: [[1, 2], [2, 1]], name: 'p1' }).apply(x) as tf.SymbolicTensor;
  const c1 = tf.layers.conv2d({ filters: 6, kernelSize: 3, name: 'c1', kernelInitializer: init(1), biasInitializer: tf.initializers.constant({ value: 0.1 }) }).apply(p1) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: 'bn', gammaInitializer: tf.initializers.constant({ value: 1.3 }), betaInitializer: tf.initializers.constant({ value: 0.2 }), movingVarianceInitializer: tf.initializers.constant({ value: 0.7 }) }).apply(c1) as tf.SymbolicTensor;
  const r = tf.layers.reLU({ name: 'r' }).apply(bn) as tf.SymbolicTensor;
  const p2 = tf.layers.zeroPadding2d({ padding: 1, name: 'p2' }).apply(r) as tf.SymbolicTensor;
  const c2 = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, useBias: false, name: 'c2', kernelInitializer: init(2) }).apply(p2) as tf.SymbolicTensor;
  const c3 = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c3', kernelInitializer: init(3) }).apply(c2) as tf.SymbolicTensor;
  // The padded tensor p2 also feeds a second branch: it must still be computed for it.
  const c4 = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, name: 'c4', kernelInitializer: init(4) }).apply(p2) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'add' }).apply([c3, c4]) as tf.SymbolicTensor;
  const g = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(sum) as tf.SymbolicTensor;
  const y = tf.layers.dense({ units: 4, name: 'fc', kernelInitializer: init(5) }).apply(g) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: y });
}

/** Logits and d(sum of logit k over the batch)/d input, via the executor or via model.apply. */
function logitsAndGrad(model: tf.LayersModel, x: tf.Tensor4D, k: number, viaExecutor: boolean) {
  return tf.tidy(() => {
    const f = (t: tf.Tensor) => (viaExecutor ? forwardLogits(model, t) : (model.apply(t, { training: false }) as tf.Tensor));
    const grad = tf.grad((t: tf.Tensor) => f(t).slice([0, k], [-1, 1]).sum())(x);
    return { logits: f(x).dataSync() as Float32Array, grad: grad.dataSync() as Float32Array };
  });
}

function relClose(got: Float32Array, ref: Float32Array, tol: number, what: string) {
  const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
  const d = maxAbsDiff(got, ref) / scale;
  assert.ok(d <= tol, `${what}: max |executor - layers| / max |layers| = ${d}`);
}

/** The kernels that ran in `f`. */
async function kernelNames(f: () => void): Promise<Set<string>> {
  const info = await tf.profile(f);
  return new Set(info.kernels.map((k) => k.name));
}

test('executor gradient = the layers\' own gradient, with ZeroPadding2D folded and plain convolutions (small model)', async () => {
  const model = paddedCnn();
  const x = randomInput([3, 11, 11, 3], 5);
  for (const k of [0, 3]) {
    const ours = logitsAndGrad(model, x, k, true);
    const ref = logitsAndGrad(model, x, k, false);
    relClose(ours.logits, ref.logits, 1e-5, 'logits');
    relClose(ours.grad, ref.grad, 1e-5, `gradient of logit ${k}`);
    assert.ok(ref.grad.reduce((m, v) => Math.max(m, Math.abs(v)), 0) > 1e-3, 'a non-trivial gradient');
  }
  const names = await kernelNames(() => { tf.grad((t: tf.Tensor) => forwardLogits(model, t).sum())(x).dispose(); });
  assert.ok(!names.has('PadV2'), `no PadV2 under the tape: ${[...names]}`);
  assert.ok(!names.has('FusedConv2D'), `no FusedConv2D under the tape: ${[...names]}`);
  assert.ok(!names.has('Conv2DBackpropFilter'), `no filter gradient: ${[...names]}`);
  assert.ok(names.has('Conv2D') && names.has('Conv2DBackpropInput'));
  x.dispose();
});

test('feeding a padded tensor (Grad-CAM on a ZeroPadding2D layer) differentiates with respect to it', () => {
  const model = paddedCnn();
  const x = randomInput([1, 11, 11, 3], 9);
  const p2 = layerOutput(model.getLayer('p2'));
  const out = model.outputs[0];
  const [ours, ref] = [true, false].map((viaExecutor) => tf.tidy(() => {
    const memo = feedInput(model, x);
    const a = evaluate(p2, memo); // [1, 8, 8, 6] the padded activations
    const f = viaExecutor
      ? (t: tf.Tensor) => evaluate(out, new Map([...feedInput(model, x), [p2.id, t]])).slice([0, 2], [1, 1]).sum()
      : (t: tf.Tensor) => {
        // The layers below p2, by hand.
        const L = (n: string, v: tf.Tensor | tf.Tensor[]) => model.getLayer(n).apply(v, { training: false }) as tf.Tensor;
        const c3 = L('c3', L('c2', t));
        return L('fc', L('gap', L('add', [c3, L('c4', t)]))).slice([0, 2], [1, 1]).sum();
      };
    return tf.grad(f)(a).dataSync() as Float32Array;
  }));
  relClose(ours, ref, 1e-5, 'gradient w.r.t. the padded tensor');
  // The padding border gets gradient too (it is an input of c2/c4): a folded padding would lose it.
  assert.ok(Math.abs(ours[0]) + Math.abs(ours[1]) > 0, 'the border of the padded tensor has a gradient');
  x.dispose();
});

test('ResNet-18: executor gradient and logits = the layers\' own, batch of 2', () => {
  const model = buildResnet18();
  const x = tf.tidy(() => randomInput([2, 224, 224, 3], 3).sub(0.5).mul(4)) as tf.Tensor4D;
  const ours = logitsAndGrad(model, x, 7, true);
  const ref = logitsAndGrad(model, x, 7, false);
  relClose(ours.logits, ref.logits, 1e-4, 'logits');
  relClose(ours.grad, ref.grad, 1e-4, 'gradient');
  x.dispose();
  model.dispose();
});
