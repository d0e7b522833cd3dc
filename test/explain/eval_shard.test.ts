/**
 * explain-eval --shard K/N: two shards run as two concurrent processes and joined by
 * `dnnkit merge` give the unsharded run's per_image.csv and curves.csv byte for byte and its AUCs
 * (seconds apart); a rerun of a shard skips its finished digits; --shard with --sanity is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../src/core/backend.js';
import { saveModel } from '../../src/core/model_io.js';
import { buildMnistCnn } from '../../src/mnist/model.js';
import { lastJson, runCli, tempDir } from '../helpers.js';

const ARGS = ['--images', '5', '--methods', 'gradcam,gradinput,shap', '--samples', '4', '--steps', '7', '--grid', '4x4', '--seed', '3'];
/** auc.csv without its seconds_per_image column. */
const aucs = (dir: string) => readFileSync(path.join(dir, 'auc.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 5).join(','));

test('explain-eval --shard: 2 concurrent shards + merge = one unsharded run; a rerun skips finished digits', async (t) => {
  await initBackend();
  const dir = tempDir(t);
  const model = path.join(dir, 'model');
  await saveModel(buildMnistCnn({ filters: [4, 8], denseUnits: 16 }), model);
  const whole = path.join(dir, 'whole');
  const sharded = path.join(dir, 'sharded');
  const [one, s1, s2] = await Promise.all([
    runCli(['explain-eval', '--model', model, ...ARGS, '--out', whole]),
    runCli(['explain-eval', '--model', model, ...ARGS, '--shard', '1/2', '--out', sharded, '--json']),
    runCli(['explain-eval', '--model', model, ...ARGS, '--shard', '2/2', '--out', sharded]),
  ]);
  for (const r of [one, s1, s2]) assert.equal(r.code, 0, r.stderr);
  const first = lastJson(s1) as { shardImages: number; skipped: number; shard: { index: number; count: number } };
  assert.deepEqual([first.shard.index, first.shard.count, first.shardImages, first.skipped], [1, 2, 3, 0], 'digits 0, 2, 4');
  // a shard alone writes its own files, not the merged ones
  assert.equal(readFileSync(path.join(sharded, 'per_image.shard-1-of-2.csv'), 'utf8').trim().split('\n').length, 1 + 3 * 4);
  const merged = await runCli(['merge', sharded]);
  assert.equal(merged.code, 0, merged.stderr);
  assert.match(merged.stdout, /merged 5 of 5 items of explain-eval/);
  for (const f of ['per_image.csv', 'curves.csv']) assert.equal(readFileSync(path.join(sharded, f), 'utf8'), readFileSync(path.join(whole, f), 'utf8'), f);
  assert.deepEqual(aucs(sharded), aucs(whole));
  const record = JSON.parse(readFileSync(path.join(sharded, 'run.json'), 'utf8')) as { command: string; files: Record<string, unknown> };
  assert.equal(record.command, 'merge');
  for (const f of ['auc.csv', 'curves.csv', 'curves.png', 'per_image.csv']) assert.ok(f in record.files, `run.json lists ${f}`);

  // Rerun shard 1: its three digits are skipped (their records untouched), the result is the same.
  const rec = path.join(sharded, 'items', 'digit-00000.explain-eval.json');
  const mtime = statSync(rec).mtimeMs;
  const again = await runCli(['explain-eval', '--model', model, ...ARGS, '--shard', '1/2', '--out', sharded, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((lastJson(again) as { skipped: number }).skipped, 3);
  assert.equal((again.stderr.match(/skipped, done by an earlier run/g) ?? []).length, 3);
  assert.equal(statSync(rec).mtimeMs, mtime);
  // Other settings: nothing is skipped.
  const other = await runCli(['explain-eval', '--model', model, ...ARGS, '--samples', '6', '--shard', '1/2', '--out', path.join(dir, 'other'), '--json']);
  assert.equal((lastJson(other) as { skipped: number }).skipped, 0);

  const bad = await runCli(['explain-eval', '--model', model, '--sanity', '--shard', '1/2', '--out', path.join(dir, 'bad')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--sanity runs in one process: leave out --shard/);
});
