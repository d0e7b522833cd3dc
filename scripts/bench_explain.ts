/**
 * The explainer workloads of `npm run bench` (scripts/bench.ts): Grad-CAM, Score-CAM and
 * Integrated Gradients on ResNet-18, one 224x224 image, against the PyTorch reference
 * implementations (scripts/bench_torch.py imports scripts/torch_gradcam.py and
 * scripts/torch_cam_attributions.py).
 *
 * Both sides use the same network and the same input: the seeded random-init torchvision
 * checkpoint of scripts/torch_fixtures.py (converted by dnnkit's converter) and chelsea.png as
 * torchvision preprocesses it. Without python3 + torch the dnnkit side runs alone, on a
 * random-init buildResnet18() and dnnkit's own preprocessing of the same photo.
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
import { ScoreCam } from '../src/explain/score_cam.js';
import { IntegratedGradients } from '../src/explain/integrated_gradients.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const IMAGE = path.join(ROOT, 'data', 'images', 'chelsea.png');
/** dnnkit's defaults (src/explain/options.ts): --batch 16, --ig-steps 64; the CAM layer of ResNet-18. */
export const EXPLAIN_BATCH = 16;
export const IG_STEPS = 64;
const LAYER = 'layer4.1';

interface ExplainFixture {
  model: tf.LayersModel;
  /** [1, 224, 224, 3] the preprocessed photo. */
  input: tf.Tensor4D;
  classIndex: number;
  /** bench_torch.py's --weights/--inputs (empty without PyTorch). */
  torchArgs: string[];
  dir?: string;
}

let fixture: Promise<ExplainFixture> | undefined;

function torchPython(): string | undefined {
  return ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0);
}

async function makeFixture(): Promise<ExplainFixture> {
  const py = torchPython();
  let model: tf.LayersModel;
  let input: tf.Tensor4D;
  let torchArgs: string[] = [];
  let dir: string | undefined;
  if (py) {
    dir = mkdtempSync(path.join(tmpdir(), 'dnnkit-bench-explain-'));
    const r = spawnSync(py, [path.join(ROOT, 'scripts', 'torch_fixtures.py'), '--arch', 'resnet18', '--out', dir, '--images', IMAGE, '--noise', '0'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`torch_fixtures.py failed: ${r.stderr}`);
    await convertCheckpoint(path.join(dir, 'resnet18.pth'), 'resnet18', path.join(dir, 'tfjs'));
    model = await loadModel(path.join(dir, 'tfjs'));
    const raw = readFileSync(path.join(dir, 'resnet18-inputs.f32'));
    input = tf.tensor4d(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), [1, 224, 224, 3]);
    torchArgs = ['--weights', path.join(dir, 'resnet18.pth'), '--inputs', path.join(dir, 'resnet18-inputs.f32')];
  } else {
    model = buildResnet18();
    input = (await preprocessImagenet(IMAGE)).input;
  }
  const classIndex = tf.tidy(() => (model.predict(input) as tf.Tensor).argMax(-1).dataSync()[0]);
  return { model, input, classIndex, torchArgs, dir };
}

function getFixture(): Promise<ExplainFixture> {
  fixture ??= makeFixture();
  return fixture;
}

/** Frees the model and removes the temporary folder (if the fixture was made). */
export async function disposeExplainFixture(): Promise<void> {
  if (!fixture) return;
  const f = await fixture;
  f.model.dispose();
  f.input.dispose();
  if (f.dir) rmSync(f.dir, { recursive: true, force: true });
  fixture = undefined;
}

/** The "zero" baseline of `dnnkit gradcam --method ig`: black through the ImageNet normalisation. */
function blackBaseline(): tf.Tensor4D {
  return tf.tidy(() => tf.tensor1d(IMAGENET_MEAN.map((m, c) => -m / IMAGENET_STD[c])).reshape([1, 1, 1, 3]).tile([1, 224, 224, 1]) as tf.Tensor4D);
}

async function timeExplanations(steps: number, run: (f: ExplainFixture) => void): Promise<{ throughput: number }> {
  const f = await getFixture();
  run(f); // warm-up: kernels compiled, weights packed
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) run(f);
  return { throughput: steps / ((performance.now() - t0) / 1000) };
}

/** Workload entries in scripts/bench.ts's shape; `batch` = inputs per forward pass. */
export const EXPLAIN_WORKLOADS = [
  {
    name: 'resnet18-gradcam',
    description: `Grad-CAM, ResNet-18 ${LAYER}, one 224x224 image`,
    unit: 'img/s',
    steps: 5,
    batch: 1,
    dnnkit: (steps: number) => timeExplanations(steps, (f) => { new GradCam(f.model, { layer: LAYER }).compute(f.input, [f.classIndex]); }),
    torchArgs: async () => (await getFixture()).torchArgs,
  },
  {
    name: 'resnet18-scorecam',
    description: `Score-CAM, ResNet-18 ${LAYER} (512 masks), one 224x224 image`,
    unit: 'img/s',
    steps: 1,
    batch: EXPLAIN_BATCH,
    dnnkit: (steps: number, batch: number) => timeExplanations(steps, (f) => { new ScoreCam(f.model, { layer: LAYER, batch }).compute(f.input, [f.classIndex]); }),
    torchArgs: async () => (await getFixture()).torchArgs,
  },
  {
    name: 'resnet18-ig',
    description: `Integrated Gradients, ResNet-18, ${IG_STEPS} steps from black, one 224x224 image`,
    unit: 'img/s',
    steps: 1,
    batch: EXPLAIN_BATCH,
    dnnkit: (steps: number, batch: number) => timeExplanations(steps, (f) => {
      const baseline = blackBaseline();
      try {
        new IntegratedGradients(f.model, { steps: IG_STEPS, batch }).explain(f.input, baseline, f.classIndex);
      } finally {
        baseline.dispose();
      }
    }),
    torchArgs: async () => (await getFixture()).torchArgs,
  },
];
