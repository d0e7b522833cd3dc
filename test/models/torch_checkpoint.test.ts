/**
 * The checkpoint reader and the streaming scatter, on inputs whose answers are known: a tiny
 * state_dict written by PyTorch (zip and legacy formats, a view sharing a storage at an offset,
 * float64/int64 tensors) read in 3-byte chunks, and transpositions checked against a naive one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { PermutedWriter, storageConsumer } from '../../src/models/convert.js';
import { openTorchCheckpoint } from '../../src/models/torch_checkpoint.js';
import { requireOracle, ROOT, tempDir } from '../helpers.js';

/** Naive transpose of row-major `src` (shape `shape`) by `perm`. */
function naiveTranspose(src: Float32Array, shape: number[], perm: number[]): Float32Array {
  const dstShape = perm.map((p) => shape[p]);
  const out = new Float32Array(src.length);
  const strides = (s: number[]) => s.map((_, i) => s.slice(i + 1).reduce((a, b) => a * b, 1));
  const ss = strides(shape);
  const ds = strides(dstShape);
  for (let n = 0; n < src.length; n++) {
    const idx = ss.map((st, k) => Math.floor(n / st) % shape[k]);
    out[perm.reduce((acc, p, j) => acc + idx[p] * ds[j], 0)] = src[n];
  }
  return out;
}

test('PermutedWriter: OIHW->HWIO, [out,in]->[in,out] and (c,h,w)-row reordering equal a naive transpose, any push sizes', () => {
  const cases: Array<[number[], number[]]> = [[[5, 3, 2, 2], [2, 3, 1, 0]], [[70, 7], [1, 0]], [[33, 4, 3, 3], [2, 3, 1, 0]], [[6], [0]]];
  for (const [shape, perm] of cases) {
    const n = shape.reduce((a, b) => a * b, 1);
    const src = Float32Array.from({ length: n }, (_, i) => i + 0.5);
    const dst = new Float32Array(n);
    const w = new PermutedWriter(dst, shape, perm);
    for (let at = 0, step = 1; at < n; at += step, step = (step * 7 + 3) % 50 + 1) w.push(src.subarray(at, Math.min(n, at + step)));
    assert.equal(w.count, n);
    assert.deepEqual([...dst], [...naiveTranspose(src, shape, perm)], `shape ${shape} perm ${perm}`);
  }
});

test('storageConsumer: bytes split anywhere, two tensors viewing one storage at different offsets', () => {
  const storage = Float32Array.from({ length: 10 }, (_, i) => i * 1.5);
  const bytes = Buffer.from(storage.buffer);
  const v = new Float32Array(4);
  const w = new Float32Array(10);
  const consume = storageConsumer([{ offset: 2, writer: new PermutedWriter(v, [4], [0]) }, { offset: 0, writer: new PermutedWriter(w, [10], [0]) }]);
  for (let at = 0; at < bytes.length; at += 3) consume(bytes.subarray(at, at + 3), at);
  assert.deepEqual([...v], [3, 4.5, 6, 7.5]);
  assert.deepEqual([...w], [...storage]);
});

test('reader: a PyTorch-written tiny state_dict, zip and legacy, in 3-byte chunks', async (t) => {
  const py = requireOracle(t, ['torch']);
  if (!py) return;
  const dir = tempDir(t);
  const r = spawnSync(py, [path.join(ROOT, 'scripts', 'torch_fixtures.py'), '--arch', 'tiny', '--out', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const file of ['tiny.pth', 'tiny-legacy.pth']) {
    const ckpt = await openTorchCheckpoint(path.join(dir, file), { chunkSize: 3 });
    assert.equal(ckpt.format, file.includes('legacy') ? 'legacy' : 'zip');
    const meta = Object.fromEntries([...ckpt.tensors].map(([k, v]) => [k, [v.dtype, v.shape, v.stride, v.offset]]));
    assert.deepEqual(meta, {
      a: ['float32', [2, 3], [3, 1], 0], b: ['float64', [5], [1], 0], c: ['int64', [1], [1], 0],
      v: ['float32', [4], [1], 2], w: ['float32', [10], [1], 0],
    });
    assert.equal(ckpt.tensors.get('v')!.storageKey, ckpt.tensors.get('w')!.storageKey);
    const got = new Map<string, Buffer[]>();
    let expectPos = new Map<string, number>();
    await ckpt.readStorages((key) => (chunk, pos) => {
      assert.equal(pos, expectPos.get(key) ?? 0, 'chunks arrive in order');
      expectPos.set(key, pos + chunk.length);
      got.set(key, [...(got.get(key) ?? []), Buffer.from(chunk)]);
    });
    ckpt.close();
    const storage = (name: string) => Buffer.concat(got.get(ckpt.tensors.get(name)!.storageKey)!);
    const a = storage('a');
    assert.deepEqual([...new Float32Array(a.buffer.slice(a.byteOffset, a.byteOffset + 24))], [0, 1, 2, 3, 4, 5]);
    const b = storage('b');
    assert.deepEqual([...new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + 40))], [0, 1, 2, 3, 4]);
    assert.equal(storage('c').readBigInt64LE(0), 7n);
    const w = storage('w');
    assert.deepEqual([...new Float32Array(w.buffer.slice(w.byteOffset, w.byteOffset + 40))], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expectPos = new Map();
  }
});
