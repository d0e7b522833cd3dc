/**
 * The MNIST training measurement that `npm run bench` (scripts/bench.ts) and
 * scripts/bench_threads.ts share: train-mnist's own step (trainOnBatch for 1 worker,
 * parallelTrainStep for more: `train-mnist --workers W`, src/mnist/parallel.ts) on MNIST training
 * images with the default --augment 2 shifts, timed after warm-up steps. Call it in a fresh
 * process: the wasm thread count is fixed when the backend starts.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, requestThreads } from '../src/core/backend.js';
import { seedGlobalRandom } from '../src/core/rng.js';
import { augmentShifts, loadMnist, makeBatch } from '../src/mnist/data.js';
import { buildMnistCnn } from '../src/mnist/model.js';
import { closeReplicas, emptyStepTimes, freshReplicaRandomStates, parallelTrainStep, startReplicas, type StepTimes } from '../src/mnist/parallel.js';

export interface MnistSetting {
  /** Data-parallel replicas (1 = one thread trains alone). */
  workers: number;
  /** wasm threads of each replica (XNNPACK's pool and oneDNN's OpenMP threads). */
  threads: number;
  steps: number;
  warmup: number;
  batch: number;
  /** Which round of a benchmark this is: each round trains on other images. */
  round: number;
  /** The main thread's shard in replica shares (parallel.ts MAIN_SHARE when absent). */
  mainShare?: number;
}

/** One measurement's result (a child process prints it as JSON). */
export interface MnistMeasurement {
  samplesPerSec: number;
  /** Samples per CPU-second of the whole process (all its threads: the replicas' and wasm's pool too). */
  samplesPerCpuSec: number;
  /** CPU-seconds per wall-second: the cores the process actually got (2 workers on 2 free cores: near 2). */
  coresUsed: number;
  /** Where a multi-worker step's time went (absent for 1 worker). */
  times?: StepTimes;
}

/** `steps` timed training steps with `workers` replicas on `threads` wasm threads each (a fresh model, seed 1). */
export async function measureMnistTraining(s: MnistSetting): Promise<MnistMeasurement> {
  const { workers, threads, steps, warmup, batch, round } = s;
  requestThreads(threads);
  const backend = await initBackend('wasm');
  const data = await loadMnist();
  const { restore } = seedGlobalRandom(1);
  const model = buildMnistCnn();
  const pool = workers > 1
    ? await startReplicas(workers, { backend: backend.name, threads: backend.threads, model: {} }, freshReplicaRandomStates(1, workers), s.mainShare)
    : undefined;
  const times = emptyStepTimes();
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
    const cpu0 = process.cpuUsage(); // every thread of the process
    for (let i = 0; i < steps; i++) await step(warmup + i, true);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    return { samplesPerSec: (steps * batch) / seconds, samplesPerCpuSec: (steps * batch) / cpuSeconds, coresUsed: cpuSeconds / seconds, times: pool ? times : undefined };
  } finally {
    model.dispose();
    if (pool) await closeReplicas(pool);
    restore();
  }
}
