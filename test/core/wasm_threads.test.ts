/**
 * Multi-threaded wasm under Node (src/core/wasm_threads.ts). The threaded runs happen in child
 * processes (threads must be enabled before the backend initialises, once per process):
 * - the backend reports 2 threads and XNNPACK's pool thread does a real share of a conv loop
 *   (per-thread CPU time from /proc on Linux);
 * - an MNIST CNN forward pass, gradients and two Adam steps give the same numbers as with 1 thread;
 * - the process exits by itself (the pool's workers must not keep Node alive).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, tempDir } from '../helpers.js';
import { enableWasmThreads, threadsFromEnv, WASM_THREADS_ENV } from '../../src/core/wasm_threads.js';
import { UsageError } from '../../src/core/errors.js';

const mod = (p: string) => JSON.stringify(pathToFileURL(path.join(ROOT, 'dist', p)).href);

/** The child: enable `threads`, init wasm, run the workloads, write values to `dump`, print a JSON line. */
const CHILD = `
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
const { enableWasmThreads, wasmThreadsOutcome } = await import(${mod('src/core/wasm_threads.js')});
const { initBackend } = await import(${mod('src/core/backend.js')});
const { createRng } = await import(${mod('src/core/rng.js')});
const { buildMnistCnn } = await import(${mod('src/mnist/model.js')});
const [threads, dump] = [Number(process.argv[1]), process.argv[2]];
const enabled = await enableWasmThreads(threads);
const info = await initBackend('wasm');
const rng = createRng(3);
const model = buildMnistCnn({ dropout: [0, 0] });
for (const w of model.weights) {
  const n = w.shape.reduce((a, b) => a * b, 1);
  w.write(tf.tensor(Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 0.2), w.shape));
}
const x = tf.tensor(Float32Array.from({ length: 32 * 784 }, () => rng.next()), [32, 28, 28, 1]);
const y = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, () => rng.int(10)), 'int32'), 10);
const values = [];
const logits = model.predict(x); values.push(logits.dataSync().slice()); logits.dispose();
const vars = model.trainableWeights.map((w) => w.val);
const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x)), vars);
for (const v of vars) values.push(grads[v.name].dataSync().slice());
tf.dispose(Object.values(grads));
for (let i = 0; i < 2; i++) await model.trainOnBatch(x, y);
for (const w of model.getWeights()) values.push(w.dataSync().slice());
fs.writeFileSync(dump, Buffer.concat(values.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength))));
// Per-thread CPU over a conv loop.
const ticks = () => {
  const out = new Map();
  if (process.platform !== 'linux') return out;
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const s = fs.readFileSync('/proc/self/task/' + tid + '/stat', 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out.set(tid, Number(f[11]) + Number(f[12]));
    } catch {}
  }
  return out;
};
const a = tf.randomNormal([4, 56, 56, 64], 0, 1, 'float32', 1);
const k = tf.randomNormal([3, 3, 64, 64], 0, 0.1, 'float32', 2);
const before = ticks();
for (let i = 0; i < 12; i++) { const c = tf.conv2d(a, k, 1, 'same'); c.dataSync(); c.dispose(); }
const after = ticks();
const mainTid = String(process.pid);
const perThread = [...after].map(([tid, t]) => ({ tid, main: tid === mainTid, ticks: t - (before.get(tid) ?? 0) }));
console.log(JSON.stringify({ enabled, threads: info.threads, outcome: wasmThreadsOutcome() ?? null, perThread }));
`;

interface ChildResult { enabled: { threads: number; reason: string }; threads: number; outcome: { threads: number; error?: string } | null; perThread: { tid: string; main: boolean; ticks: number }[] }

function runChild(threads: number, dump: string): ChildResult {
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, String(threads), dump], {
    cwd: ROOT, encoding: 'utf8', timeout: 240_000, env: { ...process.env, [WASM_THREADS_ENV]: '' },
  });
  // A pool worker keeping Node alive shows up as the timeout's SIGTERM here.
  assert.equal(res.signal, null, `child with ${threads} threads did not exit by itself (killed by ${res.signal}); stderr: ${res.stderr}`);
  assert.equal(res.status, 0, `child with ${threads} threads failed: ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').pop() as string) as ChildResult;
}

const readF32 = (file: string) => new Float32Array(new Uint8Array(fs.readFileSync(file)).buffer);

test('2 wasm threads: the pool thread computes, results equal 1 thread, the process exits by itself', (t) => {
  const dir = tempDir(t);
  const one = runChild(1, path.join(dir, 'one.f32'));
  const two = runChild(2, path.join(dir, 'two.f32'));
  assert.equal(one.threads, 1);
  assert.equal(two.enabled.threads, 2, two.enabled.reason);
  assert.equal(two.threads, 2, 'the backend reports 2 threads');
  assert.deepEqual(two.outcome, { threads: 2 });
  if (process.platform === 'linux') {
    const main = two.perThread.find((p) => p.main)?.ticks ?? 0;
    const helpers = two.perThread.filter((p) => !p.main).map((p) => p.ticks).sort((a, b) => b - a);
    // XNNPACK splits each conv evenly between the two threads; V8's own helper threads do little.
    assert.ok(helpers[0] >= 0.3 * main, `busiest other thread used ${helpers[0]} ticks vs ${main} on the main thread`);
    const oneHelpers = one.perThread.filter((p) => !p.main).map((p) => p.ticks).sort((a, b) => b - a);
    const oneMain = one.perThread.find((p) => p.main)?.ticks ?? 0;
    assert.ok((oneHelpers[0] ?? 0) < 0.3 * oneMain, `1 thread: another thread used ${oneHelpers[0]} ticks vs ${oneMain} on the main thread`);
  }
  const a = readF32(path.join(dir, 'one.f32'));
  const b = readF32(path.join(dir, 'two.f32'));
  assert.equal(a.length, b.length);
  assert.ok(a.length > 200_000, `compared ${a.length} values`);
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  assert.ok(maxDiff <= 1e-5, `max |2 threads - 1 thread| = ${maxDiff}`);
});

test('threadsFromEnv parses DNNKIT_WASM_THREADS', () => {
  assert.equal(threadsFromEnv({}), undefined);
  assert.equal(threadsFromEnv({ [WASM_THREADS_ENV]: '' }), undefined);
  assert.equal(threadsFromEnv({ [WASM_THREADS_ENV]: '2' }), 2);
  assert.equal(threadsFromEnv({ [WASM_THREADS_ENV]: ' 1 ' }), 1);
  assert.equal(threadsFromEnv({ [WASM_THREADS_ENV]: 'auto' }), os.availableParallelism());
  for (const bad of ['0', '-1', '1.5', 'two']) {
    assert.throws(() => threadsFromEnv({ [WASM_THREADS_ENV]: bad }), (err: Error) => err instanceof UsageError && err.message.includes(`${WASM_THREADS_ENV}='${bad}'`));
  }
});

test('enableWasmThreads rejects a bad count and answers 1 for 1 thread', async () => {
  await assert.rejects(enableWasmThreads(0), /integer >= 1/);
  await assert.rejects(enableWasmThreads(1.5), /integer >= 1/);
  assert.deepEqual(await enableWasmThreads(1), { threads: 1, reason: '1 thread requested' });
});
