/**
 * `node dist/scripts/bench_threads.js`: MNIST CNN training throughput on one core and on two,
 * the ways dnnkit can use them, measured interleaved round by round in one run so that a busy
 * machine slows every setting alike (compare only figures from the same run):
 *
 * - `W x T` (or `WxT@S`: the main thread's shard counted as S replica shards, default MAIN_SHARE):
 *   dnnkit with W data-parallel replicas (`train-mnist --workers W`, src/mnist/parallel.ts)
 *   each on T wasm threads (`--threads T`: XNNPACK's pool and oneDNN's OpenMP threads);
 *   `1x1` is dnnkit's 1-thread figure, `2x1` two workers, `1x2` the wasm thread pool;
 * - `torch T`: PyTorch with T threads (scripts/bench_torch.py, the same network and batch: the
 *   peer that `npm run bench` compares with), when python3 can import torch.
 *
 * Each measurement runs in a fresh child process (the wasm thread count is fixed when the backend
 * starts): warm-up steps, then timed steps of train-mnist's own step (trainOnBatch for 1 worker,
 * parallelTrainStep for more) on MNIST training images with --augment 2 shifts
 * (scripts/bench_mnist.ts, which `npm run bench` uses too). Printed: samples/s
 * per round, medians, ratios to `1x1` and to `torch 2`, the samples per CPU-second of the whole
 * process (all its threads: the work a setting costs, which a busy machine does not hide the way
 * it hides a wall-clock speed-up), the cores it actually got (CPU-seconds per second: near 1 for
 * 2 workers means the scheduler gave the process one core, and no speed-up was possible), where a
 * multi-worker step's time went, and the load average.
 *
 *   node dist/scripts/bench_threads.js [--configs 1x1,2x1,1x2,torch1,torch2] [--rounds 5] [--steps 20] [--batch 128] [--json FILE]
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { StepTimes } from '../src/mnist/parallel.js';
import { measureMnistTraining } from './bench_mnist.js';
import { findPython, loadAverage, median } from './bench_util.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TORCH_SCRIPT = path.join(ROOT, 'scripts', 'bench_torch.py');

/** One measurement's result (a child prints it as JSON). */
interface Measurement {
  samplesPerSec: number;
  /** Samples per CPU-second of the whole process; null for PyTorch (not measured by its script). */
  samplesPerCpuSec: number | null;
  /** CPU-seconds per wall-second: the cores the process actually got (2 workers on 2 free cores: near 2). */
  coresUsed: number | null;
  times?: StepTimes;
}


const { values } = parseArgs({
  options: {
    configs: { type: 'string', default: '1x1,2x1,1x2,torch1,torch2' },
    rounds: { type: 'string', default: '5' },
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    batch: { type: 'string', default: '128' },
    json: { type: 'string' },
    child: { type: 'string' }, // internal: "W,T,round" = run one dnnkit measurement and print it
  },
});
const rounds = Number(values.rounds);
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const batch = Number(values.batch);
if (!(rounds >= 1 && steps >= 1 && warmup >= 0 && batch >= 2)) {
  throw new Error('usage: bench_threads.js [--configs 1x1,2x1,1x2,torch1,torch2] [--rounds N] [--steps N] [--warmup N] [--batch N] [--json FILE]');
}

if (values.child !== undefined) {
  const [w, t, r, share] = values.child.split(',').map(Number);
  console.log(JSON.stringify(await measureMnistTraining({ workers: w, threads: t, steps, warmup, batch, round: r, ...(Number.isNaN(share) ? {} : { mainShare: share }) })));
  process.exit(0);
}

/** A setting to compare: dnnkit W x T, or PyTorch with T threads. */
interface Config { label: string; kind: 'dnnkit' | 'torch'; workers: number; threads: number; mainShare?: number }

function parseConfig(s: string): Config {
  const torch = /^torch(\d+)$/.exec(s);
  if (torch) return { label: `torch ${torch[1]}`, kind: 'torch', workers: 1, threads: Number(torch[1]) };
  const m = /^(\d+)x(\d+)(?:@([\d.]+))?$/.exec(s);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new Error(`--configs: '${s}' is neither WxT[@S] (workers x wasm threads, e.g. 2x1, and optionally the main thread's shard in replica shares, e.g. 2x1@1) nor torchT (e.g. torch2)`);
  return { label: s, kind: 'dnnkit', workers: Number(m[1]), threads: Number(m[2]), ...(m[3] ? { mainShare: Number(m[3]) } : {}) };
}

const python = findPython('torch');
let configs = values.configs!.split(',').map(parseConfig);
if (!python && configs.some((c) => c.kind === 'torch')) {
  console.log('PyTorch not importable by python3: its settings are left out');
  configs = configs.filter((c) => c.kind !== 'torch');
}

function run(config: Config, round: number): Measurement {
  if (config.kind === 'torch') {
    const r = spawnSync(python!, [TORCH_SCRIPT, 'mnist-cnn-train', '--threads', String(config.threads), '--steps', String(steps), '--batch', String(batch)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bench_torch.py failed: ${r.stderr}`);
    return { samplesPerSec: (JSON.parse(r.stdout.trim().split('\n').pop()!) as { throughput: number }).throughput, samplesPerCpuSec: null, coresUsed: null };
  }
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', `${config.workers},${config.threads},${round}${config.mainShare !== undefined ? `,${config.mainShare}` : ''}`,
    '--steps', String(steps), '--warmup', String(warmup), '--batch', String(batch)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`measurement ${config.label} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Measurement;
}

const loadBefore = loadAverage();
console.log(`MNIST CNN training, batch ${batch}, ${steps} timed steps after ${warmup}; ${rounds} rounds of ${configs.map((c) => c.label).join(', ')} ` +
  `(WxT = dnnkit, W workers x T wasm threads each); ${availableParallelism()} cores; load average ${loadBefore}`);
const results = new Map<string, Measurement[]>(configs.map((c) => [c.label, []]));
for (let r = 0; r < rounds; r++) {
  // Reverse the order every other round, so that no setting always follows the same one.
  const order = r % 2 === 0 ? configs : [...configs].reverse();
  const line = order.map((c) => {
    const m = run(c, r);
    results.get(c.label)!.push(m);
    return `${c.label} ${m.samplesPerSec.toFixed(0)}`;
  });
  console.log(`round ${r + 1}: ${line.join(', ')} samples/s (load ${loadAverage()})`);
}

const base = results.has('1x1') ? median(results.get('1x1')!.map((m) => m.samplesPerSec)) : NaN;
const torch2 = results.has('torch 2') ? median(results.get('torch 2')!.map((m) => m.samplesPerSec)) : NaN;
const summary = configs.map((c) => {
  const ms = results.get(c.label)!;
  const med = median(ms.map((m) => m.samplesPerSec));
  const cpu = c.kind === 'dnnkit' ? median(ms.map((m) => m.samplesPerCpuSec!)) : null;
  const cores = c.kind === 'dnnkit' ? median(ms.map((m) => m.coresUsed!)) : null;
  const t = ms.map((m) => m.times).filter((x): x is StepTimes => x !== undefined);
  const perStep = (k: keyof StepTimes) => t.reduce((s, x) => s + x[k], 0) / t.length / steps;
  const split = t.length ? `; per step: own shard ${perStep('own').toFixed(1)} ms, waiting for the replicas ${perStep('wait').toFixed(1)} ms, sum + Adam ${perStep('apply').toFixed(1)} ms` +
    ` (the replica: request on its way ${perStep('toReplica').toFixed(1)} ms, its work ${perStep('replica').toFixed(1)} ms, reply picked up ${perStep('late').toFixed(1)} ms after both shards were done)` : '';
  console.log(`${c.label.padEnd(8)} median ${med.toFixed(0).padStart(6)} samples/s, ${(med / base).toFixed(2)}x 1x1${Number.isNaN(torch2) ? '' : `, ${(med / torch2).toFixed(2)}x torch 2`}` +
    (cpu !== null ? `; ${cpu.toFixed(0)} samples per CPU-second, ${cores!.toFixed(2)} cores used` : '') + split);
  return { config: c.label, samplesPerSec: ms.map((m) => m.samplesPerSec), median: med, vs1x1: med / base, vsTorch2: med / torch2, samplesPerCpuSecond: cpu, coresUsed: cores };
});
const loadAfter = loadAverage();
console.log(`load average before ${loadBefore}, after ${loadAfter}`);
if (values.json) {
  writeFileSync(values.json, JSON.stringify({ batch, steps, warmup, rounds, cores: availableParallelism(), loadBefore, loadAfter, summary }, null, 2));
}
