import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSeeds, spread } from '../../src/sst2/repeat.js';
import { UsageError } from '../../src/core/errors.js';

test('spread: mean, sample standard deviation, range', () => {
  const s = spread([0.8, 0.82, 0.81]);
  assert.ok(Math.abs(s.mean - 0.81) < 1e-12);
  assert.ok(Math.abs(s.std - 0.01) < 1e-12); // sqrt(((-.01)^2 + .01^2 + 0) / 2)
  assert.equal(s.min, 0.8);
  assert.equal(s.max, 0.82);
  assert.equal(spread([0.5]).std, 0);
});

test('parseSeeds: a list of distinct whole numbers', () => {
  assert.deepEqual(parseSeeds('1, 2,3'), [1, 2, 3]);
  assert.throws(() => parseSeeds('1,,2'), UsageError);
  assert.throws(() => parseSeeds('1,1'), /duplicates/);
  assert.throws(() => parseSeeds('-1'), UsageError);
});
