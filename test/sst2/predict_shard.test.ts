/**
 * sst2 predict --shard: sentences split over 3 concurrent shards merge into the table of one
 * shard-1/1 run byte for byte, with the probabilities of the unsharded (batched) predict to 1e-6;
 * --shard without --out is a usage error (the default --out is the training folder).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { lastJson, ROOT, runCli, sst2Subset, tempDir } from '../helpers.js';
import { assertCleanError } from '../robustness/fixtures.js';

test('sst2 predict --shard: 3 concurrent shards merge into the one-shard table; probabilities as unsharded', async (t) => {
  const dir = tempDir(t);
  const data = sst2Subset(path.join(dir, 'data'), { train: 300, dev: 60, test: 60 });
  const run = path.join(dir, 'run');
  const train = await runCli(['sst2', '--data-dir', data, '--ensemble', '1', '--epochs', '1', '--units', '8', '--embedding-dim', '8',
    '--adversarial', '0', '--subwords', '0', '--embed-plot', 'none', '--quiet', '--out', run]);
  assert.equal(train.code, 0, train.stderr);
  const sentences = readFileSync(path.join(ROOT, 'data', 'sst2', 'test.tsv'), 'utf8').split('\n').slice(1, 21).map((l) => l.split('\t')[0]);
  const file = path.join(dir, 'reviews.txt');
  writeFileSync(file, sentences.join('\n') + '\n');
  const base = ['sst2', 'predict', '--model', run, '--file', file];
  const plain = await runCli([...base, '--json']);
  assert.equal(plain.code, 0, plain.stderr);
  const want = (lastJson(plain) as { predictions: { positive: number }[] }).predictions.map((p) => p.positive);
  const one = path.join(dir, 'one');
  assert.equal((await runCli([...base, '--shard', '1/1', '--out', one])).code, 0);
  const out = path.join(dir, 'three');
  const shards = await Promise.all([1, 2, 3].map((k) => runCli([...base, '--shard', `${k}/3`, '--out', out])));
  shards.forEach((r, k) => assert.equal(r.code, 0, `shard ${k + 1}: ${r.stderr}`));
  assert.equal((await runCli(['merge', out])).code, 0);
  const merged = readFileSync(path.join(out, 'predictions.csv'), 'utf8');
  assert.equal(merged, readFileSync(path.join(one, 'predictions.shard-1-of-1.csv'), 'utf8'), 'byte-identical whatever the sharding');
  const rows = parse(merged, { columns: true }) as { index: string; sentence: string; positive: string }[];
  assert.deepEqual(rows.map((r) => r.sentence), sentences);
  rows.forEach((r, i) => assert.ok(Math.abs(Number(r.positive) - want[i]) < 1e-6, `sentence ${i + 1}: ${r.positive} vs ${want[i]}`));
  assertCleanError(await runCli([...base, '--shard', '1/3']), 2, /--shard writes its predictions to a folder: give --out DIR/);
});
