/**
 * One benchmark run of the wasm backend with a given thread count (a child of threads_compare).
 *   node dist/scripts/probe/threads_bench.js --threads 2 --workload resnet18|vgg16|mnist
 *        [--reps 3] [--batch 16] [--dump out.f32]
 * Prints one JSON line: thread count in use, init time, per-rep wall and CPU times, RSS.
 * Weights and inputs are seeded (identical in every process), so --dump files from two runs
 * can be compared value by value. mnist: buildMnistCnn without dropout, Adam, trainOnBatch.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { enableWasmThreads } from '../../src/core/wasm_threads.js';
import { initBackend } from '../../src/core/backend.js';
import { createRng } from '../../src/core/rng.js';
import { buildMnistCnn } from '../../src/mnist/model.js';
import { buildResnet18 } from '../../src/models/resnet18.js';
import { buildVgg16 } from '../../src/models/vgg16.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const threads = Number(arg('threads', '1'));
const workload = arg('workload', 'mnist');
const reps = Number(arg('reps', '3'));
const dump = arg('dump', '');

const t0 = performance.now();
const enabled = await enableWasmThreads(threads);
const info = await initBackend('wasm');
const initMs = performance.now() - t0;
const rng = createRng(1234);

/** Seeded weights: kernels uniform(+-sqrt(6/fanIn)), BN identity, biases zero. */
function seedWeights(model: tf.LayersModel): void {
  for (const w of model.weights) {
    const shape = w.shape as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    if (/moving_variance|gamma/.test(w.name)) values.fill(1);
    else if (!/moving_mean|beta|bias/.test(w.name)) {
      const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const a = Math.sqrt(6 / fanIn);
      for (let i = 0; i < n; i++) values[i] = (2 * rng.next() - 1) * a;
    }
    w.write(tf.tensor(values, shape));
  }
}
const uniform = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next()), shape);

/** CPU ticks (1/100 s) of each thread of this process (Linux; empty elsewhere). */
function taskTicks(): Map<string, number> {
  const out = new Map<string, number>();
  if (process.platform !== 'linux') return out;
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, Number(f[11]) + Number(f[12]));
    } catch { /* thread ended */ }
  }
  return out;
}
let ticksBefore = new Map<string, number>();
const wall: number[] = [];
const cpu: number[] = [];
let out: Float32Array = new Float32Array(0);
let unit = '';
let perRep = 0;
if (workload === 'mnist') {
  const batch = Number(arg('batch', '128'));
  const model = buildMnistCnn({ dropout: [0, 0] });
  seedWeights(model);
  const x = uniform([batch, 28, 28, 1]);
  const labels = Array.from({ length: batch }, () => rng.int(10));
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
  for (let i = 0; i < 2; i++) await model.trainOnBatch(x, y); // warm-up
  const steps = Number(arg('steps', '10'));
  ticksBefore = taskTicks();
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage(); const w0 = performance.now();
    for (let i = 0; i < steps; i++) await model.trainOnBatch(x, y);
    wall.push(performance.now() - w0); const c = process.cpuUsage(c0); cpu.push((c.user + c.system) / 1000);
  }
  unit = 'samples/s'; perRep = batch * steps;
  out = Float32Array.from(model.getWeights().flatMap((w) => Array.from(w.dataSync())));
} else {
  const batch = Number(arg('batch', workload === 'vgg16' ? '4' : '16'));
  const model = workload === 'vgg16' ? buildVgg16({ zeroInit: true }) : buildResnet18({ zeroInit: true });
  seedWeights(model);
  const x = uniform([batch, 224, 224, 3]);
  const forward = (): Float32Array => { const y = model.predict(x) as tf.Tensor; const v = y.dataSync() as Float32Array; y.dispose(); return v; };
  forward(); // warm-up
  ticksBefore = taskTicks();
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage(); const w0 = performance.now();
    const y = forward();
    wall.push(performance.now() - w0); const c = process.cpuUsage(c0); cpu.push((c.user + c.system) / 1000);
    if (r === 0) out = y;
  }
  unit = 'img/s'; perRep = batch;
}
// CPU of the two busiest threads over the timed reps: with 2 threads, the busiest one bounds the
// wall time an otherwise idle machine would need.
const ticksAfter = taskTicks();
const perThreadCpuMs = [...ticksAfter].map(([tid, t]) => (t - (ticksBefore.get(tid) ?? 0)) * 10).sort((a, b) => b - a).slice(0, 2);
if (dump) fs.writeFileSync(dump, Buffer.from(out.buffer, out.byteOffset, out.byteLength));
console.log(JSON.stringify({
  workload, requested: threads, enabled, threads: info.threads, initMs: Math.round(initMs), wallMs: wall.map(Math.round),
  cpuMs: cpu.map(Math.round), perThreadCpuMs, throughput: wall.map((ms) => perRep / (ms / 1000)), unit,
  rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
}));
