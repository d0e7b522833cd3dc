/**
 * The native addon called from two Node worker threads at once (train-mnist --workers 2 does
 * this) gives bit-for-bit the results of the same calls made one after another on one thread.
 * Each thread runs more convolution shapes than an LRU cache holds (so entries are evicted while
 * the other thread uses its own), with filters that oneDNN reorders into the scratch area, in a
 * different order per thread. With the engine, stream, caches or scratch area shared between
 * threads (as before they were made per-thread), the threads overwrite each other's reordered
 * filters and corrupt the LRU lists: wrong results or a crash. Also run under AddressSanitizer
 * (scripts/test_asan.ts).
 *
 * This file is also the worker's script: in a worker thread it only runs its share of the calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { loadAddon, type NativeAddon } from '../../src/core/native/addon.js';
import { createRng } from '../../src/core/rng.js';

/** One convolution shape: N H W C KH KW F (stride 1, 'valid'). */
type Shape = [number, number, number, number, number, number, number];

/** 80 distinct shapes (more than the 64 entries an LRU cache keeps), channels up to 64. */
function shapes(): Shape[] {
  const out: Shape[] = [];
  for (const c of [3, 16, 32, 64]) for (const f of [16, 32, 64, 8]) for (const h of [7, 9, 12, 14, 10]) out.push([1 + (h % 3), h, h, c, 3, 3, f]);
  return out;
}

/**
 * Forward, input-gradient and filter-gradient convolutions of `list` (inputs seeded by the shape),
 * `repeats` times over; returns the SHA-256 of every output, in order.
 */
function runCalls(addon: NativeAddon, list: Shape[], repeats: number): string[] {
  const digests: string[] = [];
  for (let r = 0; r < repeats; r++) {
    for (const [N, H, W, C, KH, KW, F] of list) {
      const OH = H - KH + 1;
      const OW = W - KW + 1;
      const rng = createRng(((N * 31 + H) * 31 + C) * 31 + F);
      const fill = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
      const x = fill(N * H * W * C);
      const w = fill(KH * KW * C * F);
      const dy = fill(N * OH * OW * F);
      const params = Int32Array.from([N, H, W, C, KH, KW, F, OH, OW, 1, 1, 0, 0, 0, 0, 1, 1, 0]);
      const y = new Float32Array(N * OH * OW * F);
      const dx = new Float32Array(N * H * W * C);
      const dw = new Float32Array(KH * KW * C * F);
      addon.conv2d(x, w, null, y, params);
      addon.conv2dBackpropInput(dy, w, dx, params);
      addon.conv2dBackpropFilter(x, dy, dw, params);
      const h = createHash('sha256');
      for (const a of [y, dx, dw]) h.update(new Uint8Array(a.buffer));
      digests.push(h.digest('hex'));
    }
  }
  return digests;
}

/** Thread k's order of the shapes: each thread walks them differently. */
function orderFor(k: number): Shape[] {
  const list = shapes();
  return k === 0 ? list : createRng(k).shuffled(list);
}

const REPEATS = 2;

if (!isMainThread) {
  const { k } = workerData as { k: number };
  const { addon, problem } = loadAddon();
  if (!addon) throw new Error(problem);
  parentPort!.postMessage(runCalls(addon, orderFor(k), REPEATS));
} else {
  const load = loadAddon();
  const required = process.env.DNNKIT_REQUIRE_NATIVE === '1';
  const skip = load.addon || required ? false : `native addon not loaded: ${load.problem}`;

  test('two threads calling the native addon at once get the results of sequential calls', { skip }, async () => {
    const addon = load.addon!;
    const threads = [1, 2];
    // Sequential reference: both threads' calls, one after the other, here.
    const expected = threads.map((k) => runCalls(addon, orderFor(k), REPEATS));
    const scratchBefore = addon.cacheStats().scratchBytes;
    for (let attempt = 0; attempt < 3; attempt++) {
      const got = await Promise.all(threads.map((k) => new Promise<string[]>((resolve, reject) => {
        const worker = new Worker(new URL(import.meta.url), { workerData: { k } });
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`worker ${k} exited with ${code} before answering`)));
      })));
      for (let i = 0; i < threads.length; i++) {
        const bad = got[i].findIndex((d, j) => d !== expected[i][j]);
        assert.equal(bad, -1, `thread ${threads[i]}, attempt ${attempt}: call ${bad} (shape ${JSON.stringify(orderFor(threads[i])[bad % shapes().length])}) differs from the sequential result`);
      }
    }
    // The worker threads' caches and scratch are their own: this thread's are as they were.
    assert.equal(addon.cacheStats().scratchBytes, scratchBefore);
  });
}
