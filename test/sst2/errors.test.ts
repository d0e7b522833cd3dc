import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { runCli, tempDir } from '../helpers.js';

function dataDir(root: string, train: string): string {
  const dir = path.join(root, 'data');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'train.tsv'), train);
  writeFileSync(path.join(dir, 'dev.tsv'), 'good\t1\nbad\t0');
  writeFileSync(path.join(dir, 'test.tsv'), 'fine\t1\nawful\t0');
  return dir;
}

/** One red line on stderr, the exit code, and nothing written to --out. */
async function expectFailure(args: string[], out: string, code: number, re: RegExp): Promise<void> {
  const res = await runCli(args);
  assert.equal(res.code, code, res.stderr);
  // One line (commander's option errors add its '(add --help for usage)' hint).
  const lines = res.stderr.trim().split('\n').filter((l) => !/add --help/.test(l));
  assert.equal(lines.length, 1, res.stderr);
  assert.match(lines[0], re);
  assert.equal(res.stdout, '');
  assert.ok(!existsSync(out), `--out ${out} was created`);
}

test('sst2: a TSV with a bad label fails with the file and line, nothing written', async (t) => {
  const root = tempDir(t);
  const data = dataDir(root, 'a good film\t1\na bad film\tneg\n');
  const out = path.join(root, 'out');
  await expectFailure(['sst2', '--data-dir', data, '--out', out], out, 1, /train\.tsv:2: label 'neg' is not 0 or 1/);
});

test('sst2: an empty sentence fails with the file and line', async (t) => {
  const root = tempDir(t);
  const data = dataDir(root, 'a good film\t1\n\t0\n');
  const out = path.join(root, 'out');
  await expectFailure(['sst2', '--data-dir', data, '--out', out], out, 1, /train\.tsv:2: empty sentence/);
});

test('sst2: bad option values are usage errors (exit 2)', async (t) => {
  const root = tempDir(t);
  const out = path.join(root, 'out');
  await expectFailure(['sst2', '--out', out, '--layer', 'lstm3'], out, 2, /--layer 'lstm3' does not exist in a 1-layer model; use one of embedding, lstm1, lstm/);
  await expectFailure(['sst2', '--out', out, '--dropout', '1'], out, 2, /--dropout must be in \[0, 1\)/);
  await expectFailure(['sst2', '--out', out, '--embed-plot', 'no-such-method'], out, 2, /no-such-method/);
  await expectFailure(['sst2', '--out', out, '--pooling', 'min'], out, 2, /--pooling <how>' argument 'min' is invalid\. Allowed choices are last, max, mean, meanmax/);
  await expectFailure(['sst2', '--out', out, '--ema-decay', '1'], out, 2, /--ema-decay must be in \[0, 1\)/);
  await expectFailure(['sst2', '--out', out, '--weight-decay', '-1'], out, 2, /--weight-decay must be/);
  await expectFailure(['sst2', '--out', out, '--data-dir', path.join(root, 'nope')], out, 1, /SST-2 train split not found/);
});

test('sst2 predict: a missing model directory and an empty sentence', async (t) => {
  const root = tempDir(t);
  const res = await runCli(['sst2', 'predict', '--model', path.join(root, 'none'), 'a fine film']);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /SST-2 model\.json not found/);
  const notModel = path.join(root, 'm');
  mkdirSync(notModel);
  writeFileSync(path.join(notModel, 'model.json'), '{"format":"layers-model"}');
  const res2 = await runCli(['sst2', 'predict', '--model', notModel, 'a fine film']);
  assert.equal(res2.code, 1);
  assert.match(res2.stderr, /is not a dnnkit SST-2 model/);
  const res3 = await runCli(['sst2', 'predict', '--model', notModel, '  ']);
  assert.equal(res3.code, 2);
  assert.match(res3.stderr, /sentence 1 is empty/);
});

test('sst2 repeat: seeds are checked before anything runs', async (t) => {
  const root = tempDir(t);
  const out = path.join(root, 'out');
  await expectFailure(['sst2', 'repeat', '--seeds', '1,x', '--out', out], out, 2, /--seeds must be a comma-separated list/);
});
