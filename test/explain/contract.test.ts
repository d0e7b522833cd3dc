/**
 * The contract every registered explainer keeps (STYLE lesson 10), run over the registry plus a
 * fixture method added the way a new method is added (one file, fixture_abs_grad_cam.ts, and one
 * registry line, below): a pixel map of the image's size, finite, in [0, 1] for CAMs; the panel,
 * summary, settings summary and files; the input not mutated; no leaked tensors
 * (tf.memory().numTensors). Then the CAM base's own contract for each CAM class: batch results,
 * maps scaled to [0, 1], channel weights, and gradients computed exactly for the methods that use them.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { BaseCam, scaleToUnit, type CamContext } from '../../src/explain/base.js';
import { camEntry, DEFAULT_EXPLAIN_SETTINGS, EXPLAINERS, type ExplainerEntry, type ImageContext } from '../../src/explain/registry.js';
import { tempDir } from '../helpers.js';
import { AbsGradCam } from './fixture_abs_grad_cam.js';
import { camCnn, randomInput, sequentialCnn, skipCnn } from './tiny_models.js';

before(async () => {
  await initBackend();
});

/** The registry, plus the fixture's one registry line. */
const REGISTRY: Record<string, ExplainerEntry> = {
  ...EXPLAINERS,
  absgradcam: camEntry('absgradcam', AbsGradCam, 'channels weighted by the mean |gradient| (test fixture)'),
};

function contextFor(model: tf.LayersModel, input: tf.Tensor4D, classIndex: number): ImageContext {
  const [, h, w, c] = input.shape;
  const px = input.dataSync();
  const data = new Uint8Array(h * w * 3);
  for (let p = 0; p < h * w; p++) for (let k = 0; k < 3; k++) data[p * 3 + k] = Math.round(px[p * c + (c === 3 ? k : 0)] * 255);
  return { name: 'x', modelName: 'm', model, input, display: { data, width: w, height: h }, classIndex, label: String(classIndex), probability: 0.5 };
}

test('every registered explainer (and the fixture) keeps the contract: shapes, ranges, files, input untouched, no leaks', async (t) => {
  const out = tempDir(t);
  const settings = { ...DEFAULT_EXPLAIN_SETTINGS, grid: { rows: 2, cols: 2 }, samples: 4, batch: 3 };
  for (const [model, shape, classIndex] of [[skipCnn(4), [1, 10, 10, 3], 1], [sequentialCnn('softmax', 2), [1, 12, 12, 1], 2]] as const) {
    const input = randomInput([...shape], 6);
    const copy = input.dataSync().slice();
    const ctx = contextFor(model, input, classIndex);
    for (const [name, entry] of Object.entries(REGISTRY)) {
      assert.equal(entry.name, name, 'the entry carries its registry name');
      assert.ok(entry.title && entry.description && entry.options, name);
      await entry.explain(ctx, settings); // warm-up: lazy weight reads
      const before = tf.memory().numTensors;
      const r = await entry.explain(ctx, settings);
      assert.equal(tf.memory().numTensors, before, `${name}: no leaked tensors`);
      assert.equal(r.pixelMap.length, shape[1] * shape[2], name);
      assert.ok(r.pixelMap.every(Number.isFinite), `${name}: finite`);
      if (entry.kind === 'cam') assert.ok(r.pixelMap.every((v) => v >= 0 && v <= 1), `${name}: a CAM is scaled to [0, 1]`);
      assert.deepEqual([r.panel.image.width, r.panel.image.height], [shape[2], shape[1]], name);
      const summary = entry.settingsSummary(settings);
      assert.ok(typeof summary === 'object' && Object.values(summary).every((v) => v !== undefined), `${name}: settings summary`);
      const files = await r.write(out);
      for (const f of Object.values(files)) assert.ok(existsSync(f) && f.includes(`.m.${name}.`), `${name}: ${f}`);
      assert.deepEqual(input.dataSync(), copy, `${name}: input not mutated`);
    }
    input.dispose();
  }
});

test('the fixture method: the closed form for conv -> GAP -> dense, ReLU(sum_k |W[k,c]| A^k) scaled', () => {
  const model = camCnn();
  const x = randomInput([1, 8, 8, 2], 12);
  const [r] = new AbsGradCam(model, { layer: 'features' }).compute(x, [1]);
  const expected = tf.tidy(() => {
    const A = model.getLayer('features').apply(x) as tf.Tensor4D;
    const W = model.getLayer('fc').getWeights()[0]; // [5, 3]
    return scaleToUnit(tf.relu(A.mul(W.slice([0, 1], [5, 1]).abs().reshape([1, 1, 1, 5])).sum(3)) as tf.Tensor3D).dataSync();
  });
  let d = 0;
  r.cam.forEach((v, i) => (d = Math.max(d, Math.abs(v - expected[i]))));
  assert.ok(d < 1e-5, `max difference ${d}`);
  x.dispose();
});

test('CAM base contract for every CAM class: batches, [0, 1] maps, channel weights, gradients only when used', () => {
  const model = skipCnn(5);
  const x = randomInput([2, 10, 10, 3], 8);
  const cams = Object.values(REGISTRY).filter((e) => e.kind === 'cam').map((e) => e.cam!);
  assert.ok(cams.length >= 9, 'the 8 registered CAMs and the fixture');
  for (const Cam of cams) {
    const cam = new Cam(model, { layer: 'relu', batch: 3 });
    cam.compute(x, [0, 3]); // warm-up
    const before = tf.memory().numTensors;
    const rs = cam.compute(x, [0, 3]);
    assert.equal(tf.memory().numTensors, before, `${Cam.title}: no leaks`);
    assert.deepEqual(rs.map((r) => r.classIndex), [0, 3]);
    for (const r of rs) {
      assert.equal(r.cam.length, 100);
      assert.ok(r.cam.every((v) => v >= 0 && v <= 1), Cam.title);
      if (r.rawMax > 0) assert.ok(Math.abs(Math.max(...r.cam) - 1) < 1e-6, `${Cam.title}: scaled to max 1`);
      if (r.channelWeights) assert.equal(r.channelWeights.length, 4, `${Cam.title}: one weight per channel`);
    }
    assert.equal(cam.methodName, Cam.title);
  }
  // The hook sees gradients exactly when the method says it uses them.
  const seen: boolean[] = [];
  class Spy extends BaseCam {
    static readonly title = 'spy';
    constructor(model: tf.LayersModel, readonly flag: boolean) {
      super(model);
      (this as { usesGradients: boolean }).usesGradients = flag;
    }

    protected getCamWeights(ctx: CamContext): tf.Tensor2D {
      seen.push(ctx.gradients !== undefined);
      assert.equal(ctx.activations.shape[0], 1, 'one image per hook call');
      assert.ok(ctx.layer && ctx.model && ctx.input.shape[0] === 1 && Number.isInteger(ctx.classIndex));
      return ctx.activations.mean([1, 2]) as tf.Tensor2D;
    }
  }
  new Spy(model, true).compute(x);
  new Spy(model, false).compute(x);
  assert.deepEqual(seen, [true, true, false, false]);
  for (const e of Object.values(REGISTRY).filter((e) => e.kind === 'cam')) {
    const gradientFree = ['eigencam', 'scorecam', 'ablationcam'].includes(e.name);
    assert.equal(new e.cam!(model).usesGradients, !gradientFree, `${e.name}: usesGradients`);
  }
  x.dispose();
});
