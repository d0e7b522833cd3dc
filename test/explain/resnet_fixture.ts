/**
 * The seeded random-init torchvision ResNet-18 of the PyTorch oracle tests: written by
 * scripts/torch_fixtures.py (with the chelsea photo and one noise image as inputs), converted by
 * dnnkit, loaded; and the skip-or-fail rule for a missing oracle.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '../../src/core/model_io.js';
import { convertCheckpoint } from '../../src/models/index.js';
import { ROOT, findPython } from '../helpers.js';

export interface ResnetFixture {
  /** A python3 with torch and torchvision, or null (then nothing else is set). */
  python: string | null;
  /** Holds resnet18.pth, resnet18-inputs.f32 and the converted model in tfjs/. */
  dir: string;
  model?: tf.LayersModel;
  /** [images, 224, 224, 3] the fixture's preprocessed inputs (chelsea, then the noise image). */
  input?: tf.Tensor4D;
}

export async function setUpResnetFixture(prefix: string): Promise<ResnetFixture> {
  const python = findPython(['torch', 'torchvision']);
  if (!python) return { python, dir: '' };
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const r = spawnSync(python, ['scripts/torch_fixtures.py', '--arch', 'resnet18', '--out', dir, '--images', 'data/images/chelsea.png', '--noise', '1'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`torch_fixtures.py failed: ${r.stderr}`);
  await convertCheckpoint(path.join(dir, 'resnet18.pth'), 'resnet18', path.join(dir, 'tfjs'));
  const model = await loadModel(path.join(dir, 'tfjs'));
  const raw = readFileSync(path.join(dir, 'resnet18-inputs.f32'));
  const input = tf.tensor4d(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), [raw.byteLength / (224 * 224 * 3 * 4), 224, 224, 3]);
  return { python, dir, model, input };
}

export function disposeResnetFixture(f: ResnetFixture | undefined): void {
  f?.input?.dispose();
  f?.model?.dispose();
  if (f?.dir) rmSync(f.dir, { recursive: true, force: true });
}

/** Whether the oracle is there; skips the test without it (fails when DNNKIT_REQUIRE_ORACLES=1, as in CI). */
export function oracleReady(t: TestContext, f: ResnetFixture | undefined): boolean {
  if (f?.python && f.model && f.input) return true;
  const why = 'oracle missing: no python3 with torch, torchvision (apt-get install python3-torch python3-torchvision)';
  if (process.env.DNNKIT_REQUIRE_ORACLES === '1') throw new Error(`${why}; DNNKIT_REQUIRE_ORACLES=1 makes this a failure`);
  t.skip(why);
  return false;
}
