/**
 * `npm run bench`: dnnkit against its peers on this machine, side by side in one run, on one core
 * and on two.
 *
 * Each workload is measured in four settings, one after another in every round for --rounds
 * rounds (the order reversed every other round), so that a busy machine slows every setting
 * alike; compare only figures from the same run:
 * - dnnkit with 1 thread;
 * - PyTorch with 1 thread (scripts/bench_torch.py: the same network, shapes and batch size);
 * - dnnkit on 2 cores, the way dnnkit uses them for the workload: MNIST training with 2
 *   data-parallel workers (`train-mnist --workers 2`, src/mnist/parallel.ts; threads are
 *   slower than one thread for its small ops), every other workload with 2 threads (`--threads 2`:
 *   oneDNN's, with the native addon, wasm's own kernels staying on 1; see src/core/backend.ts);
 * - PyTorch with 2 threads.
 * Every dnnkit measurement runs in a fresh child process (this script with --child): the wasm
 * thread count is fixed when the backend starts. The table reports the median of each setting,
 * the ratios dnnkit / PyTorch at 1 and at 2 threads (>= 1: dnnkit is as fast) and dnnkit's own
 * 2-core / 1-thread ratio. "2" is min(2, cores) (--threads N asks for N); on a 1-core machine
 * the 2-thread settings are not run and their columns say n/a.
 *
 * MNIST training is train-mnist's own step on MNIST images with its default augmentation
 * (scripts/bench_mnist.ts, shared with scripts/bench_threads.ts); PyTorch trains on a random
 * batch, so the dnnkit figure also pays for making its batches.
 *
 * The explainer rows (resnet18-gradcam, -scorecam, -ig) explain one 224x224 image (chelsea.png,
 * torchvision-preprocessed) with the same seeded random-init ResNet-18 on both sides: the
 * checkpoint of scripts/torch_fixtures.py, converted by dnnkit's converter, and compared with the
 * PyTorch reference implementations (scripts/torch_gradcam.py, scripts/torch_cam_attributions.py)
 * at dnnkit's defaults: layer4.1, Score-CAM 512 masks 16 per pass, IG 64 steps 16 per pass.
 *
 * sst2-default: the whole default `dnnkit sst2` run (node bin/dnnkit.js sst2 --json: training,
 * evaluation and its outputs, with the default thread use, which the row names), once, and its
 * PyTorch peer scripts/torch_sst2.py (the same network and recipe, given the current
 * SST2_DEFAULTS) with 1 and with 2 threads: wall seconds as each run reports them, dev and test
 * accuracy, and the time ratio PyTorch / dnnkit (>= 1: dnnkit is as fast). It takes minutes:
 * --skip-sst2 leaves it out, --only sst2-default runs it alone, and --sst2-set k=v,... changes
 * SST2_DEFAULTS fields on both sides for a quick check (e.g. trainLimit=500,epochs=1,ensemble=1;
 * the row then says it is not the default run).
 *
 * t-SNE is compared with scikit-learn by scripts/bench_tsne.ts (in this process).
 *
 *   npm run bench -- [--rounds N] [--only a,b] [--json FILE] [--threads N] [--skip-tsne] [--tsne-sizes 5000,20000]
 *                    [--skip-sst2] [--sst2-set key=value,...]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend, requestThreads } from '../src/core/backend.js';
import { seedGlobalRandom } from '../src/core/rng.js';
import { buildResnet18 } from '../src/models/resnet18.js';
import { buildVgg16 } from '../src/models/vgg16.js';
import { describeModel, SST2_DEFAULTS, type Sst2Summary, type Sst2TrainOptions } from '../src/sst2/options.js';
import { benchTsne, formatTsneTable, type BenchTsneRow } from './bench_tsne.js';
import { benchLstmTrain } from './bench_lstm.js';
import { measureMnistTraining } from './bench_mnist.js';
import { findPython, loadAverage, median } from './bench_util.js';
import { EXPLAIN_WORKLOADS, prepareExplainFixture, removeExplainFixture, type ExplainFixtureFiles } from './bench_explain.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TORCH_SCRIPT = path.join(ROOT, 'scripts', 'bench_torch.py');
const TORCH_SST2 = path.join(ROOT, 'scripts', 'torch_sst2.py');
const DNNKIT_BIN = path.join(ROOT, 'bin', 'dnnkit.js');
/** The goals of the performance issue that the run is checked against. */
const GOAL_RATIO = 1.0;
const GOAL_MNIST_SCALING = 1.3;

/** What a measuring child is told. */
interface MeasureContext {
  /** Data-parallel workers (MNIST training only). */
  workers: number;
  /** wasm threads (of each worker). */
  threads: number;
  /** Round number: MNIST trains on other images each round. */
  round: number;
  /** The explainer rows' checkpoint and input (bench_explain.ts prepareExplainFixture). */
  fixtureDir?: string;
}

interface Workload {
  name: string;
  description: string;
  unit: string;
  /** Steps per measurement (dnnkit and PyTorch alike). */
  steps: number;
  batch: number;
  /** How dnnkit uses more cores for this workload: data-parallel workers, or wasm threads. */
  cores: 'workers' | 'threads';
  /** Throughput of `steps` steps in a fresh process whose backend has ctx.threads threads. */
  dnnkit: (steps: number, batch: number, ctx: MeasureContext) => Promise<number>;
  /** The measurements read the explainer fixture (its files, bench_torch.py's --weights/--inputs). */
  fixture?: boolean;
}

async function timeSteps(step: () => Promise<void> | void, warmup: number, steps: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  return (performance.now() - t0) / 1000;
}

/** Images per second of `steps` forward passes of a [batch, 224, 224, 3] random batch (after one warm-up pass). */
async function inferenceThroughput(model: tf.LayersModel, steps: number, batch: number): Promise<number> {
  const x = tf.randomUniform([batch, 224, 224, 3]);
  const seconds = await timeSteps(() => tf.tidy(() => { (model.predict(x) as tf.Tensor).dataSync(); }), 1, steps);
  tf.dispose(x);
  model.dispose();
  return (steps * batch) / seconds;
}

const WORKLOADS: Workload[] = [
  {
    name: 'mnist-cnn-train',
    description: 'MNIST CNN training (conv32-pool-conv64-pool-dense128-dense10, Adam)',
    unit: 'samples/s',
    // 60 steps after 10 warm-up ones (about 2 s): with 20 after 3, single rounds of the 2-worker
    // setting spread too widely to read a ratio from (docs/CORES.md).
    steps: 60,
    batch: 128,
    cores: 'workers',
    async dnnkit(steps, batch, ctx) {
      const m = await measureMnistTraining({ workers: ctx.workers, threads: ctx.threads, steps, warmup: 10, batch, round: ctx.round });
      return m.samplesPerSec;
    },
  },
  {
    name: 'resnet18-infer',
    description: 'ResNet-18 inference, 224x224',
    unit: 'img/s',
    steps: 3,
    batch: 16,
    cores: 'threads',
    dnnkit: (steps, batch) => inferenceThroughput(buildResnet18(), steps, batch),
  },
  {
    name: 'vgg16-infer',
    description: 'VGG-16 inference, 224x224',
    unit: 'img/s',
    steps: 2,
    batch: 4,
    cores: 'threads',
    dnnkit: (steps, batch) => inferenceThroughput(buildVgg16(), steps, batch),
  },
  {
    name: 'lstm-train',
    description: 'LSTM training (vocab 15k, emb 128, hidden 128, length 50)',
    unit: 'samples/s',
    steps: 10,
    batch: 64,
    cores: 'threads',
    dnnkit: (steps, batch) => benchLstmTrain(steps, batch),
  },
  ...EXPLAIN_WORKLOADS.map((w) => ({ ...w, cores: 'threads' as const })),
];

/** The name of the sst2 row (for --only). */
const SST2_ROW = 'sst2-default';

/** What a measuring child prints (one JSON line). */
interface ChildResult {
  throughput: number;
  backend: string;
  /** The backend's threads (per worker). */
  threads: number;
  nativeKernels: string[];
}

/** --child NAME,WORKERS,THREADS,ROUND: one dnnkit measurement in this fresh process, printed as JSON. */
async function runChild(spec: string, fixtureDir: string | undefined): Promise<void> {
  const [name, ...nums] = spec.split(',');
  const [workers, threads, round] = nums.map(Number);
  const w = WORKLOADS.find((x) => x.name === name);
  if (!w) throw new Error(`--child: unknown workload ${name}`);
  requestThreads(threads);
  const backend = await initBackend();
  seedGlobalRandom(1);
  const throughput = await w.dnnkit(w.steps, w.batch, { workers, threads, round, fixtureDir });
  const result: ChildResult = { throughput, backend: backend.name, threads: backend.threads, nativeKernels: backend.nativeKernels };
  console.log(JSON.stringify(result));
}

/** The last line of a child's stdout as JSON. */
function lastJson<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

function measureDnnkit(w: Workload, workers: number, threads: number, round: number, fixture: ExplainFixtureFiles | null): ChildResult {
  const args = [fileURLToPath(import.meta.url), '--child', `${w.name},${workers},${threads},${round}`, ...(w.fixture && fixture ? ['--fixture', fixture.dir] : [])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`dnnkit ${w.name} (${workers} worker(s) x ${threads} thread(s)) failed: ${r.stderr}`);
  return lastJson<ChildResult>(r.stdout);
}

function measureTorch(python: string, w: Workload, threads: number, extra: string[]): number {
  const r = spawnSync(python, [TORCH_SCRIPT, w.name, '--threads', String(threads), '--steps', String(w.steps), '--batch', String(w.batch), ...extra], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench_torch.py ${w.name} failed: ${r.stderr}`);
  return lastJson<{ throughput: number }>(r.stdout).throughput;
}

/** A throughput for the table: one decimal, or three significant digits below 10 (Score-CAM: 0.06 img/s). */
const rate = (v: number) => (v >= 10 ? v.toFixed(1) : v.toPrecision(3));

const medianOrNull = (xs: number[]) => (xs.length ? median(xs) : null);
const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? a / b : null);

interface Row {
  workload: string;
  description: string;
  unit: string;
  batch: number;
  rounds: number;
  /** Medians. */
  dnnkit1: number;
  torch1: number | null;
  ratio1: number | null;
  /** dnnkit on `multi` cores, and how: "2 workers" or "2 threads" (null on a 1-core machine). */
  dnnkitMulti: number | null;
  dnnkitMultiHow: string | null;
  torchMulti: number | null;
  ratioMulti: number | null;
  /** dnnkitMulti / dnnkit1. */
  scaling: number | null;
  /** Every round's figures. */
  perRound: { dnnkit1: number[]; torch1: number[]; dnnkitMulti: number[]; torchMulti: number[] };
}

/** One setting of a round: which side, on how many cores. */
interface Setting { side: 'dnnkit' | 'torch'; cores: number }

async function benchWorkload(w: Workload, o: { rounds: number; multi: number; python?: string; fixture: ExplainFixtureFiles | null },
  seen: { child?: ChildResult }): Promise<Row> {
  const settings: Setting[] = [{ side: 'dnnkit', cores: 1 }, ...(o.python ? [{ side: 'torch' as const, cores: 1 }] : []),
    ...(o.multi > 1 ? [{ side: 'dnnkit' as const, cores: o.multi }, ...(o.python ? [{ side: 'torch' as const, cores: o.multi }] : [])] : [])];
  const extra = w.fixture && o.fixture ? o.fixture.torchArgs : [];
  const got = { dnnkit1: [] as number[], torch1: [] as number[], dnnkitMulti: [] as number[], torchMulti: [] as number[] };
  for (let r = 0; r < o.rounds; r++) {
    const order = r % 2 === 0 ? settings : [...settings].reverse();
    const line: string[] = [];
    for (const s of order) {
      let v: number;
      if (s.side === 'dnnkit') {
        const workers = s.cores > 1 && w.cores === 'workers' ? s.cores : 1;
        const child = measureDnnkit(w, workers, s.cores / workers, r, o.fixture);
        seen.child ??= child;
        v = child.throughput;
        (s.cores === 1 ? got.dnnkit1 : got.dnnkitMulti).push(v);
      } else {
        v = measureTorch(o.python!, w, s.cores, extra);
        (s.cores === 1 ? got.torch1 : got.torchMulti).push(v);
      }
      line.push(`${s.side} ${s.cores} ${rate(v)}`);
    }
    process.stderr.write(`${w.name} round ${r + 1}: ${line.join(', ')} ${w.unit} (load ${loadAverage()})\n`);
  }
  const d1 = median(got.dnnkit1);
  const t1 = medianOrNull(got.torch1);
  const dm = medianOrNull(got.dnnkitMulti);
  const tm = medianOrNull(got.torchMulti);
  return {
    workload: w.name, description: w.description, unit: w.unit, batch: w.batch, rounds: o.rounds,
    dnnkit1: d1, torch1: t1, ratio1: ratio(d1, t1),
    dnnkitMulti: dm, dnnkitMultiHow: o.multi > 1 ? `${o.multi} ${w.cores}` : null, torchMulti: tm, ratioMulti: ratio(dm, tm), scaling: ratio(dm, d1),
    perRound: got,
  };
}

const fmt = (v: number | null, digits?: number) => (v === null ? 'n/a' : digits === undefined ? rate(v) : v.toFixed(digits));

function formatTable(rows: Row[], multi: number, label: string): string {
  const m = multi > 1 ? multi : 2;
  return [
    `| workload | batch | dnnkit 1 thr (${label}) | PyTorch 1 thr | ratio | dnnkit ${m} thr | PyTorch ${m} thr | ratio | dnnkit ${m} / 1 |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.description} | ${r.batch} | ${fmt(r.dnnkit1)} ${r.unit} | ${fmt(r.torch1)} | ${fmt(r.ratio1, 2)} | `
      + `${fmt(r.dnnkitMulti)}${r.dnnkitMultiHow ? ` (${r.dnnkitMultiHow})` : ''} | ${fmt(r.torchMulti)} | ${fmt(r.ratioMulti, 2)} | ${fmt(r.scaling, 2)} |`),
  ].join('\n');
}

/** The issue's goals, checked on this run's medians (only rows with a measured ratio count). */
function goalLines(rows: Row[], multi: number, single: string): string[] {
  if (multi < 2) return [`goals on 2 cores: not checked (${single})`];
  const lines: string[] = [];
  const withPeer = rows.filter((r) => r.ratioMulti !== null);
  if (withPeer.length > 0) {
    const below = withPeer.filter((r) => r.ratioMulti! < GOAL_RATIO);
    lines.push(`goal: every dnnkit/PyTorch ratio at ${multi} threads >= ${GOAL_RATIO.toFixed(1)}: ${below.length === 0 ? 'met' : `not met by ${below.map((r) => `${r.workload} ${r.ratioMulti!.toFixed(2)}`).join(', ')}`} (${withPeer.length} row${withPeer.length === 1 ? '' : 's'} with a peer)`);
  }
  const mnist = rows.find((r) => r.workload === 'mnist-cnn-train');
  if (mnist && mnist.scaling !== null) {
    lines.push(`goal: MNIST training on ${multi} cores >= ${GOAL_MNIST_SCALING}x dnnkit's 1 thread: ${mnist.scaling >= GOAL_MNIST_SCALING ? 'met' : 'not met'} (${mnist.scaling.toFixed(2)}x)`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// sst2-default: the default `dnnkit sst2` run and its PyTorch peer.

/** SST2_DEFAULTS fields that say what dnnkit writes or where it reads, not what it trains: not passed to the peer. */
const SST2_OUTPUT_ONLY: readonly string[] = ['embedPlot', 'layer', 'dataDir'];
/** SST2_DEFAULTS fields scripts/torch_sst2.py takes, under dnnkit's option names (it refuses the values it does not implement). */
const SST2_PEER_RECIPE: readonly (keyof Sst2TrainOptions)[] = [
  'epochs', 'patience', 'batchSize', 'learningRate', 'clipNorm', 'weightDecay', 'emaDecay', 'ensemble', 'cnn', 'cnnFilters',
  'earlyStopping', 'adversarial', 'units', 'layers', 'bidirectional', 'pooling', 'embeddingDim', 'dropout', 'minCount',
  'wordDropout', 'oovPrefix', 'subwords', 'maxLen', 'trainLimit',
];

/** dnnkit sst2's command-line flag of a settings field (batchSize -> --batch-size), with its value. */
function sst2Flag(key: string, value: unknown): string[] {
  const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  if (value === undefined || value === null) return [];
  if (typeof value === 'boolean') return [value ? `--${flag}` : `--no-${flag}`];
  return [`--${flag}`, String(value)];
}

/** --sst2-set key=value,...: SST2_DEFAULTS fields to change, parsed as the default's type. */
function parseSst2Set(spec: string): Partial<Sst2TrainOptions> {
  const out: Record<string, unknown> = {};
  for (const pair of spec.split(',').filter((p) => p !== '')) {
    const [key, raw] = pair.split('=');
    if (!(key in SST2_DEFAULTS) || raw === undefined) {
      throw new Error(`--sst2-set: '${pair}' is not key=value with a key of SST2_DEFAULTS (${Object.keys(SST2_DEFAULTS).join(', ')})`);
    }
    const def = (SST2_DEFAULTS as unknown as Record<string, unknown>)[key];
    const value = typeof def === 'boolean' ? raw === 'true' : typeof def === 'string' ? raw : Number(raw);
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`--sst2-set: ${key}=${raw} is not a number`);
    out[key] = value;
  }
  return out as Partial<Sst2TrainOptions>;
}

interface Sst2Side {
  /** dnnkit or PyTorch, and how it computed (backend, threads, workers). */
  who: string;
  threads: string;
  seconds: number | null;
  devAccuracy: number | null;
  testAccuracy: number | null;
  epochs: number | null;
  bestEpoch: number | null;
  /** PyTorch seconds / dnnkit seconds (PyTorch rows). */
  ratio: number | null;
  /** Why the side has no figures. */
  error?: string;
}

interface Sst2Row {
  workload: typeof SST2_ROW;
  /** True when --sst2-set changed the recipe: not the default run. */
  overridden: Partial<Sst2TrainOptions>;
  recipe: string;
  /** SST2_DEFAULTS fields the peer is not given (neither recipe nor output-only): the peer may differ in them. */
  notPassed: string[];
  sides: Sst2Side[];
}

/** The whole default `dnnkit sst2` run (with the overrides), in a child, with the default thread use. */
function runDnnkitSst2(overrides: Partial<Sst2TrainOptions>): Sst2Side {
  const out = mkdtempSync(path.join(tmpdir(), 'dnnkit-bench-sst2-'));
  try {
    const env = { ...process.env };
    delete env.DNNKIT_WASM_THREADS; // the default thread use, not this shell's
    const args = [DNNKIT_BIN, 'sst2', '--out', out, '--json', ...Object.entries(overrides).flatMap(([k, v]) => sst2Flag(k, v))];
    const r = spawnSync(process.execPath, args, { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) return { who: 'dnnkit sst2', threads: 'n/a', seconds: null, devAccuracy: null, testAccuracy: null, epochs: null, bestEpoch: null, ratio: null, error: r.stderr.trim().split('\n').pop() };
    const s = lastJson<Sst2Summary>(r.stdout);
    // run.json records the backend the run computed with (threads, and workers when it had them).
    const record = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { backend: { name: string; threads: number; workers?: number } | null };
    const b = record.backend;
    const threads = b ? `${b.name}, ${b.threads} thread${b.threads === 1 ? '' : 's'}${b.workers !== undefined ? `, ${b.workers} workers` : ''} (default)` : 'n/a';
    return { who: 'dnnkit sst2', threads, seconds: s.seconds, devAccuracy: s.devAccuracy, testAccuracy: s.testAccuracy, epochs: s.epochs, bestEpoch: s.bestEpoch, ratio: null };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** scripts/torch_sst2.py with the recipe and `threads` threads. */
function runTorchSst2(python: string, recipe: Sst2TrainOptions, threads: number, dnnkitSeconds: number | null): Sst2Side {
  const args = [TORCH_SST2, '--data-dir', path.resolve(ROOT, recipe.dataDir), '--threads', String(threads),
    ...SST2_PEER_RECIPE.flatMap((k) => sst2Flag(k, recipe[k]))];
  const r = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const who = 'PyTorch (scripts/torch_sst2.py)';
  const label = `${threads} thread${threads === 1 ? '' : 's'}`;
  if (r.status !== 0) return { who, threads: label, seconds: null, devAccuracy: null, testAccuracy: null, epochs: null, bestEpoch: null, ratio: null, error: r.stderr.trim().split('\n').pop() };
  const s = lastJson<{ seconds: number; devAccuracy: number; testAccuracy: number | null; epochs: number; bestEpoch: number }>(r.stdout);
  return { who, threads: label, seconds: s.seconds, devAccuracy: s.devAccuracy, testAccuracy: s.testAccuracy, epochs: s.epochs, bestEpoch: s.bestEpoch, ratio: ratio(s.seconds, dnnkitSeconds) };
}

function benchSst2(overrides: Partial<Sst2TrainOptions>, multi: number): Sst2Row {
  const recipe: Sst2TrainOptions = { ...SST2_DEFAULTS, ...overrides };
  const notPassed = Object.keys(SST2_DEFAULTS).filter((k) => !SST2_OUTPUT_ONLY.includes(k) && !(SST2_PEER_RECIPE as readonly string[]).includes(k));
  const described = `${describeModel(recipe)}${recipe.subwords > 0 ? `, subwords ${recipe.subwords}` : ''}${recipe.adversarial > 0 ? `, adversarial ${recipe.adversarial}` : ''}, at most ${recipe.epochs} epoch${recipe.epochs === 1 ? '' : 's'}, patience ${recipe.patience}`;
  process.stderr.write(`${SST2_ROW}: dnnkit sst2 (${described}): one run, this takes minutes (load ${loadAverage()})\n`);
  const sides = [runDnnkitSst2(overrides)];
  process.stderr.write(`${SST2_ROW}: dnnkit ${sides[0].seconds === null ? `failed: ${sides[0].error}` : `${sides[0].seconds.toFixed(1)} s`}\n`);
  const python = findPython('torch');
  for (const threads of python ? (multi > 1 ? [1, multi] : [1]) : []) {
    const side = runTorchSst2(python!, recipe, threads, sides[0].seconds);
    process.stderr.write(`${SST2_ROW}: PyTorch ${threads} thread${threads === 1 ? '' : 's'} ${side.seconds === null ? `failed: ${side.error}` : `${side.seconds.toFixed(1)} s`} (load ${loadAverage()})\n`);
    sides.push(side);
  }
  return { workload: SST2_ROW, overridden: overrides, recipe: described, notPassed, sides };
}

function formatSst2(row: Sst2Row): string {
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(100 * v).toFixed(2)}%`);
  const changed = Object.keys(row.overridden).length > 0
    ? ` NOT the default run: --sst2-set ${Object.entries(row.overridden).map(([k, v]) => `${k}=${v}`).join(',')}` : '';
  return [
    `${SST2_ROW}: ${row.recipe}; one run each${changed}`,
    '| run | computes with | seconds | dev acc | test acc | epochs (best) | PyTorch s / dnnkit s |',
    '|---|---|---|---|---|---|---|',
    ...row.sides.map((s) => `| ${s.who} | ${s.threads} | ${s.seconds === null ? `n/a (${s.error ?? 'failed'})` : s.seconds.toFixed(1)} | ${pct(s.devAccuracy)} | ${pct(s.testAccuracy)} | `
      + `${s.epochs ?? 'n/a'} (${s.bestEpoch ?? 'n/a'}) | ${fmt(s.ratio, 2)} |`),
    "seconds: each run's own wall time, from reading the data to test accuracy; dnnkit's includes writing its model, features.csv and the projection plot (the PyTorch script writes nothing)",
    ...(row.sides.length === 1 ? ['(no python3 with torch: no PyTorch peer)'] : []),
    ...(row.notPassed.length > 0 ? [`SST2_DEFAULTS fields the PyTorch peer is not given: ${row.notPassed.join(', ')} (check scripts/torch_sst2.py)`] : []),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------

function parseArgs(argv: string[]) {
  const opts = {
    rounds: 3, only: null as string[] | null, json: null as string | null, tsne: true, tsneSizes: [5000, 20000],
    threads: Math.min(2, availableParallelism()), sst2: true, sst2Set: {} as Partial<Sst2TrainOptions>,
    child: null as string | null, fixture: undefined as string | undefined,
  };
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
    else if (a === '--threads') opts.threads = Number.parseInt(next(), 10);
    else if (a === '--skip-tsne') opts.tsne = false;
    else if (a === '--tsne-sizes') opts.tsneSizes = next().split(',').map(Number);
    else if (a === '--skip-sst2') opts.sst2 = false;
    else if (a === '--sst2-set') opts.sst2Set = parseSst2Set(next());
    else if (a === '--child') opts.child = next(); // internal: one dnnkit measurement (see runChild)
    else if (a === '--fixture') opts.fixture = next(); // internal: the explainer fixture folder of the parent
    else throw new Error(`unknown argument ${a}; see the header of scripts/bench.ts`);
  }
  if (!Number.isInteger(opts.rounds) || opts.rounds < 1) throw new Error('--rounds must be a whole number >= 1');
  if (!Number.isInteger(opts.threads) || opts.threads < 1) throw new Error('--threads must be a whole number >= 1 (the multi-core setting; default min(2, cores))');
  const known = [...WORKLOADS.map((w) => w.name), SST2_ROW, 'tsne'];
  const unknown = (opts.only ?? []).filter((n) => !known.includes(n));
  if (unknown.length > 0) throw new Error(`--only: unknown ${unknown.join(', ')}; use some of ${known.join(', ')}`);
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.child !== null) {
    await runChild(opts.child, opts.fixture);
    return;
  }
  const cores = availableParallelism();
  const multi = opts.threads;
  /** Why there is no multi-thread setting (when multi is 1). */
  const single = cores < 2 ? 'this machine has 1 core' : '--threads 1';
  const loadBefore = loadAverage();
  const python = findPython('torch, torchvision');
  const torchVersion = python ? spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout.trim() : null;
  const chosen = WORKLOADS.filter((w) => !opts.only || opts.only.includes(w.name));
  if (chosen.length > 0) {
    process.stderr.write(`${cores} cores; dnnkit 1 thread vs ${multi > 1 ? `${multi} (MNIST: ${multi} workers of 1 thread; others: ${multi} threads)` : `no more (${single})`}; `
      + `PyTorch ${torchVersion ?? 'not importable by python3 (dnnkit only)'}; ${opts.rounds} round(s); load average ${loadBefore}\n`);
  }
  if (multi > cores) process.stderr.write(`note: --threads ${multi} is more than the ${cores} cores: the ${multi}-thread settings share cores\n`);
  const fixture = chosen.some((w) => w.fixture) ? await prepareExplainFixture() : null;
  const rows: Row[] = [];
  const seen: { child?: ChildResult } = {};
  try {
    for (const w of chosen) rows.push(await benchWorkload(w, { rounds: opts.rounds, multi, python, fixture }, seen));
  } finally {
    removeExplainFixture(fixture);
  }
  if (rows.length > 0) {
    // The dnnkit columns name the kernels in use: wasm alone, or wasm with the native oneDNN kernels.
    const c = seen.child!;
    const label = c.nativeKernels.length > 0 ? `${c.backend} + native kernels (oneDNN; see dnnkit info)` : c.backend;
    console.log(`medians of ${opts.rounds} round(s); ${cores} cores; PyTorch ${torchVersion ?? 'n/a'}; load average ${loadBefore} before, ${loadAverage()} after`
      + (multi < 2 ? `; ${single}: the multi-thread settings were not run` : ''));
    console.log(formatTable(rows, multi, label));
    for (const line of goalLines(rows, multi, single)) console.log(line);
  }
  let sst2: Sst2Row | null = null;
  if (opts.sst2 && (!opts.only || opts.only.includes(SST2_ROW))) {
    sst2 = benchSst2(opts.sst2Set, multi);
    console.log('\n' + formatSst2(sst2));
  }
  let tsneRows: BenchTsneRow[] = [];
  if (opts.tsne && (!opts.only || opts.only.includes('tsne'))) {
    tsneRows = await benchTsne({ sizes: opts.tsneSizes });
    console.log('\n' + formatTsneTable(tsneRows));
  }
  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify({
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
      date: new Date().toISOString(), backend: seen.child?.backend ?? null, nativeKernels: seen.child?.nativeKernels ?? [], cores, multiThreads: multi,
      torch: torchVersion, loadBefore, loadAfter: loadAverage(), rows, sst2, tsne: tsneRows,
    }, null, 2) + '\n');
  }
}

await main();
