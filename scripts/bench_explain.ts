/**
 * The explainer workloads of `npm run bench` (scripts/bench.ts): Grad-CAM, Score-CAM and
 * Integrated Gradients on ResNet-18, one 224x224 image, against the PyTorch reference
 * implementations (scripts/bench_torch.py imports scripts/torch_gradcam.py and
 * scripts/torch_cam_attributions.py).
 *
 * Both sides use the same network and the same input: the seeded random-init torchvision
 * checkpoint of scripts/torch_fixtures.py (converted by dnnkit's converter) and chelsea.png as
 * torchvision preprocesses it, written once to a temporary folder by the parent process
 * (prepareExplainFixture) and read by every measuring child. Without python3 + torch the dnnkit
 * side runs alone, on a random-init buildResnet18() and dnnkit's own preprocessing of the same photo.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '../src/core/model_io.js';
import { convertCheckpoint } from '../src/models/index.js';
import { buildResnet18 } from '../src/models/resnet18.js';
import { IMAGENET_MEAN, IMAGENET_STD, preprocessImagenet } from '../src/models/preprocess.js';
import { GradCam } from '../src/explain/grad_cam.js';
import { findPython } from './bench_util.js';
import { ScoreCam } from '../src/explain/score_cam.js';
import { IntegratedGradients } from '../src/explain/integrated_gradients.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const IMAGE = path.join(ROOT, 'data', 'images', 'chelsea.png');
/** dnnkit's defaults (src/explain/options.ts): --batch 16, --ig-steps 64; the CAM layer of ResNet-18. */
export const EXPLAIN_BATCH = 16;
export const IG_STEPS = 64;
const LAYER = 'layer4.1';

/** The shared checkpoint and input on disk, made once by the parent process (null without PyTorch). */
export interface ExplainFixtureFiles {
  /** Temporary folder: resnet18.pth, resnet18-inputs.f32 and the converted model in tfjs/. */
  dir: string;
  /** bench_torch.py's --weights/--inputs. */
  torchArgs: string[];
}

/** What a measuring process explains with. */
interface ExplainFixture {
  model: tf.LayersModel;
  /** [1, 224, 224, 3] the preprocessed photo. */
  input: tf.Tensor4D;
  classIndex: number;
}

/**
 * Writes the seeded random-init ResNet-18 checkpoint and the preprocessed photo
 * (scripts/torch_fixtures.py) and converts the checkpoint with dnnkit's converter, into a
 * temporary folder; null when python3 cannot import torch and torchvision. Remove it with
 * removeExplainFixture.
 */
export async function prepareExplainFixture(): Promise<ExplainFixtureFiles | null> {
  const py = findPython('torch, torchvision');
  if (!py) return null;
  const dir = mkdtempSync(path.join(tmpdir(), 'dnnkit-bench-explain-'));
  const r = spawnSync(py, [path.join(ROOT, 'scripts', 'torch_fixtures.py'), '--arch', 'resnet18', '--out', dir, '--images', IMAGE, '--noise', '0'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`torch_fixtures.py failed: ${r.stderr}`);
  await convertCheckpoint(path.join(dir, 'resnet18.pth'), 'resnet18', path.join(dir, 'tfjs'));
  return { dir, torchArgs: ['--weights', path.join(dir, 'resnet18.pth'), '--inputs', path.join(dir, 'resnet18-inputs.f32')] };
}

export function removeExplainFixture(files: ExplainFixtureFiles | null): void {
  if (files) rmSync(files.dir, { recursive: true, force: true });
}

/**
 * The model and input of a measurement: from the fixture folder, or without one a random-init
 * buildResnet18() and dnnkit's own preprocessing of the same photo.
 */
async function loadFixture(dir: string | undefined): Promise<ExplainFixture> {
  let model: tf.LayersModel;
  let input: tf.Tensor4D;
  if (dir) {
    model = await loadModel(path.join(dir, 'tfjs'));
    const raw = readFileSync(path.join(dir, 'resnet18-inputs.f32'));
    input = tf.tensor4d(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), [1, 224, 224, 3]);
  } else {
    model = buildResnet18();
    input = (await preprocessImagenet(IMAGE)).input;
  }
  const classIndex = tf.tidy(() => (model.predict(input) as tf.Tensor).argMax(-1).dataSync()[0]);
  return { model, input, classIndex };
}

/** The "zero" baseline of `dnnkit gradcam --method ig`: black through the ImageNet normalisation. */
function blackBaseline(): tf.Tensor4D {
  return tf.tidy(() => tf.tensor1d(IMAGENET_MEAN.map((m, c) => -m / IMAGENET_STD[c])).reshape([1, 1, 1, 3]).tile([1, 224, 224, 1]) as tf.Tensor4D);
}

/** Explanations per second over `steps` explanations after one warm-up (kernels compiled, weights packed). */
async function timeExplanations(steps: number, fixtureDir: string | undefined, run: (f: ExplainFixture) => void): Promise<number> {
  const f = await loadFixture(fixtureDir);
  try {
    run(f);
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) run(f);
    return steps / ((performance.now() - t0) / 1000);
  } finally {
    f.model.dispose();
    f.input.dispose();
  }
}

/**
 * Workload entries in scripts/bench.ts's shape; `batch` = inputs per forward pass; `fixture`: the
 * measurements read the files of prepareExplainFixture (ctx.fixtureDir, bench_torch.py's torchArgs).
 */
export const EXPLAIN_WORKLOADS = [
  {
    name: 'resnet18-gradcam',
    description: `Grad-CAM, ResNet-18 ${LAYER}, one 224x224 image`,
    unit: 'img/s',
    // About 1 s per measurement: with 5 images (0.2 s) single rounds ranged 0.77-1.25x PyTorch.
    steps: 30,
    batch: 1,
    fixture: true,
    dnnkit: (steps: number, _batch: number, ctx: { fixtureDir?: string }) => timeExplanations(steps, ctx.fixtureDir, (f) => { new GradCam(f.model, { layer: LAYER }).compute(f.input, [f.classIndex]); }),
  },
  {
    name: 'resnet18-scorecam',
    description: `Score-CAM, ResNet-18 ${LAYER} (512 masks), one 224x224 image`,
    unit: 'img/s',
    steps: 1,
    batch: EXPLAIN_BATCH,
    fixture: true,
    dnnkit: (steps: number, batch: number, ctx: { fixtureDir?: string }) => timeExplanations(steps, ctx.fixtureDir, (f) => { new ScoreCam(f.model, { layer: LAYER, batch }).compute(f.input, [f.classIndex]); }),
  },
  {
    name: 'resnet18-ig',
    description: `Integrated Gradients, ResNet-18, ${IG_STEPS} steps from black, one 224x224 image`,
    unit: 'img/s',
    steps: 1,
    batch: EXPLAIN_BATCH,
    fixture: true,
    dnnkit: (steps: number, batch: number, ctx: { fixtureDir?: string }) => timeExplanations(steps, ctx.fixtureDir, (f) => {
      const baseline = blackBaseline();
      try {
        new IntegratedGradients(f.model, { steps: IG_STEPS, batch }).explain(f.input, baseline, f.classIndex);
      } finally {
        baseline.dispose();
      }
    }),
  },
];
