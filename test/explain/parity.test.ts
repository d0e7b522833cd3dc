/**
 * Grad-CAM parity with PyTorch autograd (scripts/torch_gradcam.py) on the seeded random-init
 * torchvision ResNet-18 and VGG-16 (scripts/torch_fixtures.py, converted by the models module):
 * the layer-resolution maps, both scaled to [0, 1], agree within 1e-3.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { loadModel } from '../../src/core/model_io.js';
import { convertCheckpoint, MODELS } from '../../src/models/index.js';
import { GradCam } from '../../src/explain/grad_cam.js';
import { defaultTargetLayer } from '../../src/explain/base.js';
import { ROOT, requireOracle, tempDir } from '../helpers.js';

before(async () => {
  await initBackend();
});

interface TorchMap { layer: string; index: number; classIndex: number; height: number; width: number; cam: number[]; logit: number; rawMax: number }

function py(python: string, args: string[]): string {
  const r = spawnSync(python, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

async function parity(t: import('node:test').TestContext, arch: 'resnet18' | 'vgg16', extraLayers: string[], fixtureArgs: string[]): Promise<void> {
  const python = requireOracle(t, ['torch', 'torchvision']);
  if (!python) return;
  const dir = tempDir(t, `dnnkit-parity-${arch}-`);
  py(python, ['scripts/torch_fixtures.py', '--arch', arch, '--out', dir, ...fixtureArgs]);
  await convertCheckpoint(path.join(dir, `${arch}.pth`), arch, path.join(dir, 'tfjs'));
  const model = await loadModel(path.join(dir, 'tfjs'));
  const defaultLayer = defaultTargetLayer(model).name;
  assert.equal(defaultLayer, MODELS[arch].lastConvLayer, 'the default target is the registry\'s last conv layer');
  const layers = [defaultLayer, ...extraLayers];
  const raw = readFileSync(path.join(dir, `${arch}-inputs.f32`));
  const n = raw.byteLength / (224 * 224 * 3 * 4);
  const torch = JSON.parse(py(python, ['scripts/torch_gradcam.py', '--arch', arch, '--weights', path.join(dir, `${arch}.pth`),
    '--inputs', path.join(dir, `${arch}-inputs.f32`), '--layer', layers.join(',')])).maps as TorchMap[];
  const input = tf.tensor4d(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), [n, 224, 224, 3]);
  try {
    for (const layer of layers) {
      const ours = new GradCam(model, { layer }).compute(input);
      for (let i = 0; i < n; i++) {
        const ref = torch.find((m) => m.layer === layer && m.index === i)!;
        const r = ours[i];
        assert.equal(r.classIndex, ref.classIndex, `${layer} image ${i}: top-1 class`);
        assert.deepEqual([r.camHeight, r.camWidth], [ref.height, ref.width]);
        assert.ok(ref.rawMax > 0, 'the reference map is not all zero (the comparison means something)');
        let maxDiff = 0;
        r.cam.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - ref.cam[k]))));
        t.diagnostic(`${arch} ${layer} image ${i}: class ${r.classIndex}, ${r.camHeight}x${r.camWidth}, max |tfjs - torch| = ${maxDiff.toExponential(2)}`);
        assert.ok(maxDiff <= 1e-3, `${arch} ${layer} image ${i}: max difference ${maxDiff}`);
      }
    }
  } finally {
    input.dispose();
    model.dispose();
  }
}

test('Grad-CAM parity with PyTorch: ResNet-18 (block output, conv, residual sum)', { timeout: 300_000 }, async (t) => {
  await parity(t, 'resnet18', ['layer4.1.conv2', 'layer3.1.add'], ['--images', 'data/images/chelsea.png', '--noise', '1']);
});

test('Grad-CAM parity with PyTorch: VGG-16 (last conv ReLU, last conv)', { timeout: 600_000 }, async (t) => {
  await parity(t, 'vgg16', ['features.28'], ['--noise', '1']);
});
