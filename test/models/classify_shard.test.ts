/**
 * classify with folders and --shard: two shards run concurrently, killed-free, merge into the
 * predictions.csv of one unsharded run byte for byte (classify's table has no timing column); a
 * rerun of a shard skips its images.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../../src/core/backend.js';
import { runCli, tempDir } from '../helpers.js';
import { makeTinyModel, noise } from '../robustness/fixtures.js';

test('classify --shard: 2 concurrent shards merge into the unsharded predictions.csv; a rerun skips done images', async (t) => {
  await initBackend();
  const dir = tempDir(t);
  const model = await makeTinyModel(path.join(dir, 'tiny'));
  const photos = path.join(dir, 'photos');
  mkdirSync(path.join(photos, 'sub'), { recursive: true });
  const names = ['a.png', 'b.png', 'c.png', 'sub/d.png', 'sub/e.png'];
  for (const [i, n] of names.entries()) await sharp(noise(20, 16, 3, i * 5), { raw: { width: 20, height: 16, channels: 3 } }).png().toFile(path.join(photos, n));
  const ref = path.join(dir, 'ref');
  const one = await runCli(['classify', '--model', model, '--recursive', '--out', ref, photos]);
  assert.equal(one.code, 0, one.stderr);
  const refCsv = readFileSync(path.join(ref, 'predictions.csv'), 'utf8');
  assert.equal(refCsv.trim().split('\n').length, 1 + 5 * 3, 'header + 5 images x 3 classes (the tiny model has 3)');
  const out = path.join(dir, 'sharded');
  const shards = await Promise.all([1, 2].map((k) => runCli(['classify', '--model', model, '--recursive', '--shard', `${k}/2`, '--out', out, photos])));
  shards.forEach((r, k) => assert.equal(r.code, 0, `shard ${k + 1}: ${r.stderr}`));
  const files2 = readFileSync(path.join(out, 'predictions.shard-2-of-2.csv'), 'utf8').split('\n').slice(1).filter(Boolean).map((l) => path.relative(photos, l.split(',')[0]));
  assert.deepEqual([...new Set(files2)], ['b.png', 'sub/d.png'], 'shard 2 of 2 has the 2nd and 4th images');
  const m = await runCli(['merge', out]);
  assert.equal(m.code, 0, m.stderr);
  assert.equal(readFileSync(path.join(out, 'predictions.csv'), 'utf8'), refCsv, 'merged = unsharded, byte for byte');
  const again = await runCli(['classify', '--model', model, '--recursive', '--shard', '1/2', '--out', out, photos]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.stderr.match(/: skipped, done by an earlier run/g) ?? []).length, 3, again.stderr);
});
