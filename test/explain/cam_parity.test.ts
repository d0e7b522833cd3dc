/**
 * The CAM variants against independent PyTorch autograd implementations of their published
 * formulas (scripts/torch_gradcam.py --method ...) on the seeded random-init torchvision ResNet-18
 * (scripts/torch_fixtures.py, converted by the models module): the layer-resolution maps, both
 * scaled to [0, 1], agree within 1e-3. Then the properties that need no oracle, on the same model:
 * HiResCAM and XGrad-CAM equal Grad-CAM at `layer4.1` (it feeds global average pooling, so the
 * gradient is constant over space) and differ from it at `layer3.1`; Eigen-CAM does not depend on
 * the class; Score-CAM's weights lie in [0, 1] (a softmax over the channels).
 *
 * One ResNet-18 fixture for the whole file; Score-CAM (512 masked forward passes per image) runs
 * on one image only, the others on both (chelsea and a noise image). A VGG-16 fixture (one noise
 * image) checks the gradient CAMs and Eigen-CAM at `features.29` and `features.28` as well.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { loadModel } from '../../src/core/model_io.js';
import { convertCheckpoint } from '../../src/models/index.js';
import type { CamClass, CamResult } from '../../src/explain/base.js';
import { GradCam } from '../../src/explain/grad_cam.js';
import { GradCamPlusPlus } from '../../src/explain/grad_cam_plus_plus.js';
import { XGradCam } from '../../src/explain/xgrad_cam.js';
import { HiResCam } from '../../src/explain/hires_cam.js';
import { LayerCam } from '../../src/explain/layer_cam.js';
import { EigenCam } from '../../src/explain/eigen_cam.js';
import { ScoreCam } from '../../src/explain/score_cam.js';
import { AblationCam } from '../../src/explain/ablation_cam.js';
import { ROOT } from '../helpers.js';
import { disposeResnetFixture, oracleReady, setUpResnetFixture, type ResnetFixture } from './resnet_fixture.js';

interface TorchMap { method: string; layer: string; index: number; classIndex: number; height: number; width: number; cam: number[]; rawMax: number; weights: number[] | null }

let python: string | null;
let dir: string;
let model: tf.LayersModel | undefined;
let input: tf.Tensor4D | undefined;
let fx: ResnetFixture | undefined;

function py(args: string[]): string {
  const r = spawnSync(python!, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  await initBackend();
  fx = await setUpResnetFixture('dnnkit-cam-parity-');
  ({ python, dir, model, input } = fx);
});

after(() => disposeResnetFixture(fx));

function ready(t: import('node:test').TestContext): boolean {
  return oracleReady(t, fx);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The first `count` fixture images (all when undefined). */
function images(count?: number): tf.Tensor4D {
  return count === undefined ? input!.clone() : input!.slice([0, 0, 0, 0], [count, 224, 224, 3]);
}

/** Runs `methods` (registry names) through the oracle and compares each map with ours. */
async function compareWithTorch(t: import('node:test').TestContext, cams: Record<string, CamClass>, layers: string[], count?: number): Promise<void> {
  const methods = Object.keys(cams);
  const torch = JSON.parse(py(['scripts/torch_gradcam.py', '--arch', 'resnet18', '--weights', path.join(dir, 'resnet18.pth'),
    '--inputs', path.join(dir, 'resnet18-inputs.f32'), '--layer', layers.join(','), '--method', methods.join(','), '--batch', '32',
    ...(count ? ['--count', String(count)] : [])])).maps as TorchMap[];
  const x = images(count);
  try {
    for (const layer of layers) {
      for (const method of methods) {
        const ours: CamResult[] = new cams[method](model!, { layer, batch: 32 }).compute(x);
        ours.forEach((r, i) => {
          const ref = torch.find((m) => m.method === method && m.layer === layer && m.index === i)!;
          assert.equal(r.classIndex, ref.classIndex, `${method} ${layer} image ${i}: top-1 class`);
          assert.deepEqual([r.camHeight, r.camWidth], [ref.height, ref.width]);
          assert.ok(ref.rawMax > 0, `${method} ${layer} image ${i}: the reference map is not all zero (the comparison means something)`);
          const d = maxAbsDiff(r.cam, ref.cam);
          t.diagnostic(`${method} ${layer} image ${i}: class ${r.classIndex}, ${r.camHeight}x${r.camWidth}, max |tfjs - torch| = ${d.toExponential(2)}`);
          assert.ok(d <= 1e-3, `${method} ${layer} image ${i}: max difference ${d}`);
        });
      }
    }
  } finally {
    x.dispose();
  }
}

test('gradient CAMs equal PyTorch: Grad-CAM++, XGrad-CAM, HiResCAM, LayerCAM, and Eigen-CAM (ResNet-18 layer4.1, layer3.1)', { timeout: 600_000 }, async (t) => {
  if (!ready(t)) return;
  await compareWithTorch(t, { gradcampp: GradCamPlusPlus, xgradcam: XGradCam, hirescam: HiResCam, layercam: LayerCam, eigencam: EigenCam }, ['layer4.1', 'layer3.1']);
});

test('Ablation-CAM equals PyTorch (ResNet-18 layer4.1, both images; layer3.1, one image)', { timeout: 600_000 }, async (t) => {
  if (!ready(t)) return;
  await compareWithTorch(t, { ablationcam: AblationCam }, ['layer4.1']);
  await compareWithTorch(t, { ablationcam: AblationCam }, ['layer3.1'], 1);
});

test('Score-CAM equals PyTorch (ResNet-18 layer4.1, 512 masked inputs), weights in [0, 1] summing to 1', { timeout: 600_000 }, async (t) => {
  if (!ready(t)) return;
  await compareWithTorch(t, { scorecam: ScoreCam }, ['layer4.1'], 1);
  const x = images(1);
  const [r] = new ScoreCam(model!, { layer: 'layer4.1', batch: 64 }).compute(x);
  x.dispose();
  const w = r.channelWeights!;
  assert.equal(w.length, 512);
  assert.ok(w.every((v) => v >= 0 && v <= 1), 'every weight in [0, 1]');
  assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 1) < 1e-4, 'a softmax over the channels');
  assert.ok(Math.max(...w) - Math.min(...w) > 1e-4, 'the weights are not all equal (the masks mattered)');
});

test('HiResCAM and XGrad-CAM equal Grad-CAM at layer4.1 (feeds global average pooling) and differ at layer3.1', { timeout: 300_000 }, async (t) => {
  if (!ready(t)) return;
  for (const [layer, same] of [['layer4.1', true], ['layer3.1', false]] as const) {
    const grad = new GradCam(model!, { layer }).compute(input!);
    for (const Cam of [HiResCam, XGradCam]) {
      const other = new Cam(model!, { layer }).compute(input!);
      other.forEach((r, i) => {
        const d = maxAbsDiff(r.cam, grad[i].cam);
        t.diagnostic(`${Cam.title} vs Grad-CAM at ${layer}, image ${i}: max difference ${d.toExponential(2)}`);
        if (same) assert.ok(d < 1e-4, `${Cam.title} at ${layer} image ${i}: ${d}`);
        else assert.ok(d > 0.05, `${Cam.title} at ${layer} image ${i} should differ from Grad-CAM: ${d}`);
      });
    }
  }
});

test('Eigen-CAM does not depend on the class', { timeout: 300_000 }, async (t) => {
  if (!ready(t)) return;
  const cam = new EigenCam(model!, { layer: 'layer4.1' });
  const n = input!.shape[0];
  const a = cam.compute(input!, new Array(n).fill(3));
  const b = cam.compute(input!, new Array(n).fill(917));
  for (let i = 0; i < n; i++) {
    assert.deepEqual([a[i].classIndex, b[i].classIndex], [3, 917]);
    assert.ok(a[i].rawMax > 0);
    assert.deepEqual(Array.from(a[i].cam), Array.from(b[i].cam), `image ${i}`);
  }
  // ... while Grad-CAM does (the test could fail).
  const g3 = new GradCam(model!, { layer: 'layer4.1' }).compute(input!, new Array(n).fill(3));
  const g917 = new GradCam(model!, { layer: 'layer4.1' }).compute(input!, new Array(n).fill(917));
  assert.ok(maxAbsDiff(g3[0].cam, g917[0].cam) > 0.05, 'Grad-CAM changes with the class');
});

test('gradient CAMs and Eigen-CAM equal PyTorch on VGG-16 (features.29, features.28; one noise image)', { timeout: 600_000 }, async (t) => {
  if (!ready(t)) return;
  const vggDir = mkdtempSync(path.join(tmpdir(), 'dnnkit-cam-parity-vgg-'));
  t.after(() => rmSync(vggDir, { recursive: true, force: true }));
  py(['scripts/torch_fixtures.py', '--arch', 'vgg16', '--out', vggDir, '--noise', '1']);
  await convertCheckpoint(path.join(vggDir, 'vgg16.pth'), 'vgg16', path.join(vggDir, 'tfjs'));
  const vgg = await loadModel(path.join(vggDir, 'tfjs'));
  const raw = readFileSync(path.join(vggDir, 'vgg16-inputs.f32'));
  const x = tf.tensor4d(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), [1, 224, 224, 3]);
  const cams: Record<string, CamClass> = { gradcampp: GradCamPlusPlus, xgradcam: XGradCam, hirescam: HiResCam, layercam: LayerCam, eigencam: EigenCam };
  const layers = ['features.29', 'features.28'];
  try {
    const torch = JSON.parse(py(['scripts/torch_gradcam.py', '--arch', 'vgg16', '--weights', path.join(vggDir, 'vgg16.pth'),
      '--inputs', path.join(vggDir, 'vgg16-inputs.f32'), '--layer', layers.join(','), '--method', Object.keys(cams).join(',')])).maps as TorchMap[];
    for (const layer of layers) {
      for (const [method, Cam] of Object.entries(cams)) {
        const [r] = new Cam(vgg, { layer }).compute(x);
        const ref = torch.find((m) => m.method === method && m.layer === layer)!;
        assert.equal(r.classIndex, ref.classIndex);
        assert.ok(ref.rawMax > 0, `${method} ${layer}: the reference map is not all zero`);
        const d = maxAbsDiff(r.cam, ref.cam);
        t.diagnostic(`vgg16 ${method} ${layer}: class ${r.classIndex}, ${r.camHeight}x${r.camWidth}, max |tfjs - torch| = ${d.toExponential(2)}`);
        assert.ok(d <= 1e-3, `vgg16 ${method} ${layer}: max difference ${d}`);
      }
    }
  } finally {
    x.dispose();
    vgg.dispose();
  }
});
