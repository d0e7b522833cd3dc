/**
 * Parity with PyTorch (the oracle): torchvision ResNet-18 and VGG-16 checkpoints with seeded random
 * weights, converted by dnnkit, must give PyTorch's logits within 1e-3 on the same inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { loadModel } from '../../src/core/model_io.js';
import { convertCheckpoint } from '../../src/models/index.js';
import { ROOT, requireOracle, tempDir } from '../helpers.js';
import { torchFixture, type TorchFixture } from './torch_fixtures.js';

const TOLERANCE = 1e-3;
const CHELSEA = path.join(ROOT, 'data', 'images', 'chelsea.png');
const COFFEE = path.join(ROOT, 'data', 'images', 'coffee.png');

/** Converts `pth`, runs the tfjs model on the fixture inputs, returns max |logit diff|. */
async function maxLogitDiff(fx: TorchFixture, pth: string, outDir: string): Promise<number> {
  await initBackend();
  await convertCheckpoint(pth, fx.arch, outDir);
  const model = await loadModel(outDir);
  const before = tf.memory().numTensors;
  let worst = 0;
  for (let i = 0; i < fx.n; i++) {
    const got = tf.tidy(() => (model.predict(tf.tensor4d(fx.inputs.subarray(i * 224 * 224 * 3, (i + 1) * 224 * 224 * 3), [1, 224, 224, 3])) as tf.Tensor).dataSync());
    const want = fx.logits.subarray(i * 1000, (i + 1) * 1000);
    assert.equal(got.length, 1000);
    for (let k = 0; k < 1000; k++) worst = Math.max(worst, Math.abs(got[k] - want[k]));
  }
  assert.equal(tf.memory().numTensors, before, 'prediction leaked tensors');
  model.dispose();
  return worst;
}

test('ResNet-18: converted checkpoint matches PyTorch logits within 1e-3 (zip and legacy formats)', async (t) => {
  const py = requireOracle(t, ['torch', 'torchvision']);
  if (!py) return;
  const fx = await torchFixture(py, 'resnet18', { images: [CHELSEA, COFFEE], noise: 1, legacy: true });
  assert.ok(fx.logitAbsMax > 1, `logits should be O(1-10) for a meaningful tolerance, got max ${fx.logitAbsMax}`);
  const zipDiff = await maxLogitDiff(fx, fx.checkpoint, path.join(tempDir(t), 'zip'));
  t.diagnostic(`resnet18 zip: max |logit diff| ${zipDiff.toExponential(2)} over ${fx.n} inputs (|logit| up to ${fx.logitAbsMax.toFixed(1)})`);
  assert.ok(zipDiff <= TOLERANCE, `max |logit diff| ${zipDiff} > ${TOLERANCE}`);
  const legacyDiff = await maxLogitDiff(fx, fx.legacyCheckpoint!, path.join(tempDir(t), 'legacy'));
  t.diagnostic(`resnet18 legacy: max |logit diff| ${legacyDiff.toExponential(2)}`);
  assert.ok(legacyDiff <= TOLERANCE, `legacy format: max |logit diff| ${legacyDiff} > ${TOLERANCE}`);
});

test('VGG-16: converted checkpoint matches PyTorch logits within 1e-3', async (t) => {
  const py = requireOracle(t, ['torch', 'torchvision']);
  if (!py) return;
  // One image: VGG-16 is 553 MB and a forward pass takes seconds on wasm.
  const fx = await torchFixture(py, 'vgg16', { images: [CHELSEA], noise: 0 });
  assert.ok(fx.logitAbsMax > 0.5, `logits should not be tiny, got max ${fx.logitAbsMax}`);
  const diff = await maxLogitDiff(fx, fx.checkpoint, path.join(tempDir(t), 'vgg16'));
  t.diagnostic(`vgg16: max |logit diff| ${diff.toExponential(2)} over ${fx.n} input(s) (|logit| up to ${fx.logitAbsMax.toFixed(2)})`);
  assert.ok(diff <= TOLERANCE, `max |logit diff| ${diff} > ${TOLERANCE}`);
});
