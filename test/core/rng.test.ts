/**
 * core/rng.ts: deriveSeed gives every (seed, path) its own well-mixed seed, and the legacy
 * stream seeds are exactly the derivations the published results were trained with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, deriveSeed, LEGACY_STREAM_SEEDS, seedGlobalRandom } from '../../src/core/rng.js';

test('deriveSeed: seed 42 stream 1 is not seed 43 stream 0 (the explain-eval bug of seed + i)', () => {
  assert.notEqual(deriveSeed(42, 'explain-eval', 'image', 1), deriveSeed(43, 'explain-eval', 'image', 0));
  assert.equal(deriveSeed(42, 'a', 1), deriveSeed(42, 'a', 1), 'deterministic');
  assert.notEqual(deriveSeed(42, 'ab', 'c'), deriveSeed(42, 'a', 'bc'), 'parts are delimited');
  assert.notEqual(deriveSeed(42, 1), deriveSeed(42, '1'), 'a number is not its digits');
  assert.notEqual(deriveSeed(42), deriveSeed(42, ''), 'an empty part counts');
  assert.throws(() => deriveSeed(1, 0.5), /whole numbers/);
});

test('deriveSeed: 32-bit, no collisions and balanced bits over 20,000 neighbouring seeds and paths', () => {
  const seen = new Set<number>();
  const ones = new Array<number>(32).fill(0);
  let n = 0;
  for (let seed = 0; seed < 100; seed++) {
    for (let i = 0; i < 200; i++) {
      const s = deriveSeed(seed, 'stream', i);
      assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32);
      seen.add(s);
      for (let b = 0; b < 32; b++) ones[b] += (s >>> b) & 1;
      n++;
    }
  }
  assert.equal(seen.size, n);
  // Each bit is 1 in half the seeds: 20,000 fair coins stay within 4.5 sd (+-318) of 10,000.
  for (const [b, c] of ones.entries()) assert.ok(Math.abs(c - n / 2) < 4.5 * Math.sqrt(n / 4), `bit ${b} is 1 in ${c} of ${n}`);
});

test('the legacy stream seeds are the formulas the README results were trained with', () => {
  assert.equal(LEGACY_STREAM_SEEDS.globalRandom(42), 42 ^ 0x5bd1e995);
  assert.equal(LEGACY_STREAM_SEEDS.mnistShifts(7, 2, 5), 7 * 1_000_003 + 2 * 10_007 + 5);
  assert.equal(LEGACY_STREAM_SEEDS.sst2Member(42, 0), 42);
  assert.equal(LEGACY_STREAM_SEEDS.sst2Member(2 ** 31 - 1, 3), (2 ** 31 - 1 + 3 * 1_000_003) % 2 ** 31);
  assert.equal(LEGACY_STREAM_SEEDS.sst2Subwords(5), 5 + 7_654_321);
  // seedGlobalRandom draws the stream of createRng(seed ^ 0x5bd1e995), as before.
  const { rng, restore } = seedGlobalRandom(9);
  try {
    const ref = createRng(9 ^ 0x5bd1e995);
    assert.deepEqual([Math.random(), Math.random(), rng.next()], [ref.next(), ref.next(), ref.next()]);
  } finally {
    restore();
  }
});
