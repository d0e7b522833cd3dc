/**
 * sst2 predict takes the run folder `dnnkit sst2 --out` printed (or its model/ folder), sentences
 * as arguments, from --file (one per line) or from standard input ('-'), with the same
 * probabilities each way; its --help lists its own options, not the 90 lines of training options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BIN, lastJson, ROOT, runCli, sst2Subset, tempDir } from '../helpers.js';

const SENTENCES = ['a gorgeous , witty film', 'a dull and tedious mess', 'unwatchable'];
const probsOf = (stdout: string) => (JSON.parse(stdout.trim().split('\n').pop()!) as { predictions: { positive: number }[] }).predictions.map((p) => p.positive);

test('sst2 predict: run folder or model/ folder; arguments, --file and stdin give the same probabilities', async (t) => {
  const dir = tempDir(t);
  const data = sst2Subset(path.join(dir, 'data'), { train: 300, dev: 60, test: 60 });
  const out = path.join(dir, 'run');
  const train = await runCli(['sst2', '--data-dir', data, '--ensemble', '1', '--epochs', '1', '--units', '8', '--embedding-dim', '8',
    '--adversarial', '0', '--subwords', '0', '--embed-plot', 'none', '--out', out]);
  assert.equal(train.code, 0, train.stderr);
  const byModelDir = await runCli(['sst2', 'predict', '--model', path.join(out, 'model'), '--json', ...SENTENCES]);
  assert.equal(byModelDir.code, 0, byModelDir.stderr);
  const want = probsOf(byModelDir.stdout);
  assert.equal(want.length, 3);
  const byRunDir = await runCli(['sst2', 'predict', '--model', out, '--json', ...SENTENCES]);
  assert.equal(byRunDir.code, 0, byRunDir.stderr);
  assert.deepEqual(probsOf(byRunDir.stdout), want);
  const file = path.join(dir, 'reviews.txt');
  writeFileSync(file, `${SENTENCES[0]}\r\n\n${SENTENCES[1]}\n${SENTENCES[2]}\n`);
  const byFile = await runCli(['sst2', 'predict', '--model', out, '--file', file, '--json']);
  assert.equal(byFile.code, 0, byFile.stderr);
  assert.deepEqual(probsOf(byFile.stdout), want);
  const byStdin = spawnSync(process.execPath, [BIN, 'sst2', 'predict', '--model', out, '-'], { cwd: ROOT, input: SENTENCES.join('\n') + '\n', encoding: 'utf8' });
  assert.equal(byStdin.status, 0, byStdin.stderr);
  const lines = byStdin.stdout.trim().split('\n');
  assert.deepEqual(lines.map((l) => l.split('\t')[1]), SENTENCES, 'P(positive)<TAB>sentence lines on stdout');
  assert.deepEqual(lines.map((l) => Number(l.split('\t')[0])), want.map((p) => Number(p.toFixed(4))));
  // Text as people type it: "Gorgeous, witty film." is the corpus's `a gorgeous , witty film`.
  const typed = await runCli(['sst2', 'predict', '--model', out, '--json', 'A Gorgeous, witty film.']);
  assert.equal(typed.code, 0, typed.stderr);
  assert.deepEqual(probsOf(typed.stdout), [want[0]]);
  const typedJson = lastJson(typed) as { predictions: { unknownWords: string[] }[] };
  assert.ok(!typedJson.predictions[0].unknownWords.includes('gorgeous,'), 'punctuation is split off before the lookup');
  const none = await runCli(['sst2', 'predict', '--model', out]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no sentences: give them as arguments, with --file F/);
  assert.equal(lastJson(byFile).backend !== undefined, true);
});

test('sst2 predict --help lists its own options only', async () => {
  const res = await runCli(['sst2', 'predict', '--help']);
  assert.equal(res.code, 0);
  assert.match(res.stdout, /--model <dir>/);
  assert.match(res.stdout, /--file <path>/);
  assert.doesNotMatch(res.stdout, /--ensemble|--subwords|--learning-rate/);
  assert.ok(res.stdout.split('\n').length < 30, `${res.stdout.split('\n').length} lines of help`);
});
