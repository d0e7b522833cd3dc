/**
 * `npm run bench`: dnnkit against its peers on this machine, side by side in one run.
 *
 * Each workload runs in dnnkit (in this process) and in PyTorch (scripts/bench_torch.py, with
 * the same network, shapes and batch size) alternately for --rounds rounds; the table reports
 * the median throughput of each side and the ratio dnnkit / peer (>= 1: dnnkit is as fast).
 * PyTorch runs with dnnkit's thread count (the "same thread count") and, for context,
 * with every core. t-SNE is compared with scikit-learn by scripts/bench_tsne.ts.
 *
 * The explainer rows (resnet18-gradcam, -scorecam, -ig) explain one 224x224 image (chelsea.png,
 * torchvision-preprocessed) with the same seeded random-init ResNet-18 on both sides: the
 * checkpoint of scripts/torch_fixtures.py, converted by dnnkit's converter, and compared with the
 * PyTorch reference implementations (scripts/torch_gradcam.py, scripts/torch_cam_attributions.py)
 * at dnnkit's defaults: layer4.1, Score-CAM 512 masks 16 per pass, IG 64 steps 16 per pass.
 *
 *   npm run bench -- [--rounds N] [--only a,b] [--json FILE] [--skip-tsne] [--tsne-sizes 5000,20000]
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/core/backend.js';
import { seedGlobalRandom } from '../src/core/rng.js';
import { buildMnistCnn } from '../src/mnist/model.js';
import { buildResnet18 } from '../src/models/resnet18.js';
import { buildVgg16 } from '../src/models/vgg16.js';
import { benchTsne, formatTsneTable, type BenchTsneRow } from './bench_tsne.js';
import { benchLstmTrain } from './bench_lstm.js';
import { disposeExplainFixture, EXPLAIN_WORKLOADS } from './bench_explain.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TORCH_SCRIPT = path.join(ROOT, 'scripts', 'bench_torch.py');

interface Measurement {
  throughput: number;
}

interface Workload {
  name: string;
  description: string;
  unit: string;
  /** Steps per measurement (dnnkit and PyTorch alike). */
  steps: number;
  batch: number;
  dnnkit: (steps: number, batch: number) => Promise<Measurement>;
  /** Extra arguments of bench_torch.py (e.g. the shared weights and input files). */
  torchArgs?: () => Promise<string[]>;
}

async function timeSteps(step: () => Promise<void> | void, warmup: number, steps: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  return (performance.now() - t0) / 1000;
}

const WORKLOADS: Workload[] = [
  {
    name: 'mnist-cnn-train',
    description: 'MNIST CNN training (conv32-pool-conv64-pool-dense128-dense10, Adam)',
    unit: 'samples/s',
    steps: 20,
    batch: 128,
    async dnnkit(steps, batch) {
      const model = buildMnistCnn();
      const x = tf.randomUniform([batch, 28, 28, 1]);
      const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10);
      const seconds = await timeSteps(async () => { await model.trainOnBatch(x, y); }, 2, steps);
      tf.dispose([x, y]);
      model.dispose();
      return { throughput: (steps * batch) / seconds };
    },
  },
  {
    name: 'resnet18-infer',
    description: 'ResNet-18 inference, 224x224',
    unit: 'img/s',
    steps: 3,
    batch: 16,
    async dnnkit(steps, batch) {
      const model = buildResnet18();
      const x = tf.randomUniform([batch, 224, 224, 3]);
      const seconds = await timeSteps(() => tf.tidy(() => { (model.predict(x) as tf.Tensor).dataSync(); }), 1, steps);
      tf.dispose(x);
      model.dispose();
      return { throughput: (steps * batch) / seconds };
    },
  },
  {
    name: 'vgg16-infer',
    description: 'VGG-16 inference, 224x224',
    unit: 'img/s',
    steps: 2,
    batch: 4,
    async dnnkit(steps, batch) {
      const model = buildVgg16();
      const x = tf.randomUniform([batch, 224, 224, 3]);
      const seconds = await timeSteps(() => tf.tidy(() => { (model.predict(x) as tf.Tensor).dataSync(); }), 1, steps);
      tf.dispose(x);
      model.dispose();
      return { throughput: (steps * batch) / seconds };
    },
  },
  {
    name: 'lstm-train',
    description: 'LSTM training (vocab 15k, emb 128, hidden 128, length 50)',
    unit: 'samples/s',
    steps: 10,
    batch: 64,
    async dnnkit(steps, batch) {
      return { throughput: await benchLstmTrain(steps, batch) };
    },
  },
  ...EXPLAIN_WORKLOADS,
];

function torchMeasure(w: Workload, threads: number, extra: string[]): Measurement | null {
  const py = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0);
  if (!py) return null;
  const r = spawnSync(py, [TORCH_SCRIPT, w.name, '--threads', String(threads), '--steps', String(w.steps), '--batch', String(w.batch), ...extra], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench_torch.py ${w.name} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Measurement;
}

/** A throughput for the table: one decimal, or three significant digits below 10 (Score-CAM: 0.06 img/s). */
const rate = (v: number) => (v >= 10 ? v.toFixed(1) : v.toPrecision(3));

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Row {
  workload: string;
  description: string;
  unit: string;
  batch: number;
  dnnkit: number;
  dnnkitThreads: number;
  torchSameThreads: number | null;
  ratioSameThreads: number | null;
  torchAllCores: number | null;
  ratioAllCores: number | null;
  rounds: number;
}

function parseArgs(argv: string[]) {
  const opts = { rounds: 3, only: null as string[] | null, json: null as string | null, tsne: true, tsneSizes: [5000, 20000] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--rounds') opts.rounds = Number.parseInt(next(), 10);
    else if (a === '--only') opts.only = next().split(',');
    else if (a === '--json') opts.json = next();
    else if (a === '--skip-tsne') opts.tsne = false;
    else if (a === '--tsne-sizes') opts.tsneSizes = next().split(',').map(Number);
    else throw new Error(`unknown argument ${a}; see the header of scripts/bench.ts`);
  }
  if (!Number.isInteger(opts.rounds) || opts.rounds < 1) throw new Error('--rounds must be a whole number >= 1');
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const backend = await initBackend();
  const threads = backend.name === 'wasm' ? backend.threads : availableParallelism();
  const cores = availableParallelism();
  seedGlobalRandom(1);
  process.stderr.write(`dnnkit backend: ${backend.name} (${backend.reason}); ${threads} thread(s); ${cores} cores\n`);
  const rows: Row[] = [];
  for (const w of WORKLOADS) {
    if (opts.only && !opts.only.includes(w.name)) continue;
    const ours: number[] = [];
    const same: number[] = [];
    const all: number[] = [];
    const extra = (await w.torchArgs?.()) ?? [];
    for (let r = 0; r < opts.rounds; r++) {
      ours.push((await w.dnnkit(w.steps, w.batch)).throughput);
      const t1 = torchMeasure(w, threads, extra);
      if (t1) same.push(t1.throughput);
      if (cores !== threads) {
        const t2 = torchMeasure(w, cores, extra);
        if (t2) all.push(t2.throughput);
      } else if (t1) all.push(t1.throughput);
      process.stderr.write(`${w.name} round ${r + 1}: dnnkit ${rate(ours[r])}, PyTorch ${same[r] === undefined ? 'n/a' : rate(same[r])} (${threads} thr), ${all[r] === undefined ? 'n/a' : rate(all[r])} (${cores} thr) ${w.unit}\n`);
    }
    const d = median(ours);
    const s = same.length ? median(same) : null;
    const a = all.length ? median(all) : null;
    rows.push({
      workload: w.name, description: w.description, unit: w.unit, batch: w.batch, dnnkit: d, dnnkitThreads: threads,
      torchSameThreads: s, ratioSameThreads: s ? d / s : null, torchAllCores: a, ratioAllCores: a ? d / a : null, rounds: opts.rounds,
    });
  }
  const f = (v: number | null, digits = 1) => (v === null ? 'n/a' : digits === 1 ? rate(v) : v.toFixed(digits));
  // The dnnkit column names the kernels in use: wasm alone, or wasm with the native oneDNN kernels.
  const label = backend.nativeKernels.length > 0 ? `${backend.name} + native kernels (oneDNN; see dnnkit info)` : backend.name;
  const lines = [
    `| workload | batch | dnnkit (${label}, ${threads} thr) | PyTorch ${threads} thr | ratio | PyTorch ${cores} thr | ratio |`,
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.description} | ${r.batch} | ${f(r.dnnkit)} ${r.unit} | ${f(r.torchSameThreads)} | ${f(r.ratioSameThreads, 2)} | ${f(r.torchAllCores)} | ${f(r.ratioAllCores, 2)} |`),
  ];
  console.log(lines.join('\n'));
  await disposeExplainFixture();
  let tsneRows: BenchTsneRow[] = [];
  if (opts.tsne && (!opts.only || opts.only.includes('tsne'))) {
    tsneRows = await benchTsne({ sizes: opts.tsneSizes });
    console.log('\n' + formatTsneTable(tsneRows));
  }
  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify({
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
      date: new Date().toISOString(), backend: backend.name, nativeKernels: backend.nativeKernels, threads, cores, rows, tsne: tsneRows,
    }, null, 2) + '\n');
  }
}

await main();
