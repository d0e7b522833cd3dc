/**
 * `node dist/scripts/bench_threads.js`: MNIST CNN training throughput with 1 and with 2 (or
 * more) data-parallel replicas (`train-mnist --workers N`, src/mnist/parallel.ts), measured in
 * one process and interleaved round by round, so that a busy machine slows every setting alike.
 * Prints samples/s per round, the medians, the ratio to 1 worker, where a multi-worker step's time
 * went, the samples per CPU-second of the whole process (all its threads: on a busy machine this
 * shows the work a setting costs when the wall-clock ratio cannot), and the load average before
 * and after (compare only figures from the same run).
 *
 *   node dist/scripts/bench_threads.js [--workers 1,2] [--rounds 5] [--steps 20] [--batch 128] [--json FILE]
 *
 * The steps are train-mnist's own (trainOnBatch for 1 worker, parallelTrainStep for more) on
 * the first MNIST training images, with the default --augment 2 shifts. Wasm threads stay at
 * --threads / DNNKIT_WASM_THREADS (1 by default) for every replica.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, requestThreads } from '../src/core/backend.js';
import { seedGlobalRandom } from '../src/core/rng.js';
import { augmentShifts, loadMnist, makeBatch } from '../src/mnist/data.js';
import { buildMnistCnn } from '../src/mnist/model.js';
import { closeReplicas, freshReplicaRandomStates, parallelTrainStep, startReplicas, type StepTimes } from '../src/mnist/parallel.js';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2' },
    rounds: { type: 'string', default: '5' },
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    batch: { type: 'string', default: '128' },
    threads: { type: 'string' },
    json: { type: 'string' },
  },
});
const workerCounts = values.workers!.split(',').map(Number);
const rounds = Number(values.rounds);
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const batch = Number(values.batch);
if (!workerCounts.every((w) => Number.isInteger(w) && w >= 1) || !(rounds >= 1 && steps >= 1 && batch >= 2)) {
  throw new Error('usage: bench_threads.js [--workers 1,2] [--rounds N] [--steps N] [--warmup N] [--batch N] [--threads N] [--json FILE]');
}
if (values.threads !== undefined) requestThreads(Number(values.threads));

const backend = await initBackend('wasm');
const data = await loadMnist();
const loadBefore = load();
console.log(`backend ${backend.name}, ${backend.threads} wasm thread(s) per replica, native kernels: ${backend.nativeKernels.length}; ${availableParallelism()} cores; load average ${loadBefore}`);
console.log(`MNIST CNN training, batch ${batch}, ${steps} timed steps after ${warmup} per measurement, ${rounds} rounds of workers ${workerCounts.join(', ')}`);

/** Samples/s of `steps` training steps with `workers` replicas (a fresh model, seed 1). */
async function measure(workers: number, round: number): Promise<{ samplesPerSec: number; samplesPerCpuSec: number; times?: StepTimes }> {
  const { restore } = seedGlobalRandom(1);
  const model = buildMnistCnn();
  const pool = workers > 1
    ? await startReplicas(workers, { backend: backend.name, threads: backend.threads, model: {} }, freshReplicaRandomStates(1, workers))
    : undefined;
  const times: StepTimes = { own: 0, wait: 0, apply: 0 };
  try {
    const step = async (i: number, timed: boolean) => {
      const start = ((round * (steps + warmup) + i) * batch) % (data.train.count - batch);
      const idx = Array.from({ length: batch }, (_, k) => start + k);
      const shifts = augmentShifts(1, round, i, batch, 2);
      if (pool) {
        await parallelTrainStep(pool, model, data.train, idx, shifts, timed ? times : undefined);
      } else {
        const { x, y } = makeBatch(data.train, idx, shifts);
        await model.trainOnBatch(x, y);
        tf.dispose([x, y]);
      }
    };
    for (let i = 0; i < warmup; i++) await step(i, false);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage(); // all threads of the process: the replicas' too
    for (let i = 0; i < steps; i++) await step(warmup + i, true);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    return { samplesPerSec: (steps * batch) / seconds, samplesPerCpuSec: (steps * batch) / cpuSeconds, times: pool ? times : undefined };
  } finally {
    model.dispose();
    if (pool) await closeReplicas(pool);
    restore();
  }
}

const results = new Map<number, number[]>(workerCounts.map((w) => [w, []]));
const perCpu = new Map<number, number[]>(workerCounts.map((w) => [w, []]));
const split = new Map<number, StepTimes>();
for (let r = 0; r < rounds; r++) {
  // Alternate the order each round, so neither setting always runs right after the other.
  const order = r % 2 === 0 ? workerCounts : [...workerCounts].reverse();
  const line: string[] = [];
  for (const w of order) {
    const { samplesPerSec, samplesPerCpuSec, times } = await measure(w, r);
    results.get(w)!.push(samplesPerSec);
    perCpu.get(w)!.push(samplesPerCpuSec);
    if (times) {
      const acc = split.get(w) ?? { own: 0, wait: 0, apply: 0 };
      split.set(w, { own: acc.own + times.own, wait: acc.wait + times.wait, apply: acc.apply + times.apply });
    }
    line.push(`${w} worker(s) ${samplesPerSec.toFixed(0)}`);
  }
  console.log(`round ${r + 1}: ${line.join(', ')} samples/s (load ${load()})`);
}
const base = median(results.get(workerCounts[0])!);
const summary = workerCounts.map((w) => {
  const m = median(results.get(w)!);
  const t = split.get(w);
  const perStep = t ? ` (per step: own shard ${(t.own / rounds / steps).toFixed(1)} ms, waiting for replicas ${(t.wait / rounds / steps).toFixed(1)} ms, sum + Adam ${(t.apply / rounds / steps).toFixed(1)} ms)` : '';
  const c = median(perCpu.get(w)!);
  console.log(`workers ${w}: median ${m.toFixed(0)} samples/s, ${(m / base).toFixed(2)}x ${workerCounts[0]} worker(s); ${c.toFixed(0)} samples per CPU-second${perStep}`);
  return { workers: w, samplesPerSec: results.get(w)!, median: m, ratio: m / base, samplesPerCpuSecond: c, stepTimesMs: t };
});
const loadAfter = load();
console.log(`load average before ${loadBefore}, after ${loadAfter}`);
if (values.json) writeFileSync(values.json, JSON.stringify({ batch, steps, rounds, threads: backend.threads, cores: availableParallelism(), loadBefore, loadAfter, summary }, null, 2));
