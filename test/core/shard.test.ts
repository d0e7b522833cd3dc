/**
 * core/shard.ts without a model: --shard parsing (K/N, auto from SLURM job arrays and Kubernetes
 * Indexed Jobs, one-line errors), the partition (every item in exactly one shard, in order),
 * per-shard file names, item records (done only with the same fingerprint and intact files) and
 * table columns. The commands' sharding is tested end to end in test/explain/shard.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../../src/core/errors.js';
import {
  emptyShardWarning, isShardRecordName, parseShard, parseShardFileName, readDoneItem, shardFileName, shardItems, tableColumns, writeItemRecord,
} from '../../src/core/shard.js';
import { tempDir } from '../helpers.js';

test('--shard K/N is 1-based and validated with one-line usage errors', () => {
  assert.deepEqual(parseShard('2/3', {}), { index: 2, count: 3, source: 'option' });
  assert.deepEqual(parseShard('1/1', {}), { index: 1, count: 1, source: 'option' });
  for (const [spec, message] of [
    ['4/3', /shard 4 of 3 does not exist \(K is 1-based/],
    ['0/3', /shard 0 of 3 does not exist/],
    ['1/0', /shard count must be between 1 and/],
    ['2', /is not K\/N or auto/],
    ['a/b', /is not K\/N or auto/],
    ['-1/3', /is not K\/N or auto/],
    ['auto', /neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set/],
  ] as const) {
    assert.throws(() => parseShard(spec, {}), (e: Error) => e instanceof UsageError && message.test(e.message) && !e.message.includes('\n'), spec);
  }
});

test('--shard auto reads SLURM arrays (any start, steps) and Kubernetes Indexed Jobs', () => {
  // --array=0-3: ids 0..3 are shards 1..4
  assert.deepEqual(parseShard('auto', { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '0' }), { index: 1, count: 4, source: 'slurm' });
  assert.deepEqual(parseShard('auto', { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '0' }), { index: 4, count: 4, source: 'slurm' });
  // --array=1-4 (the MIN matters) and --array=10-16:2 (ids 10, 12, 14, 16)
  assert.deepEqual(parseShard('auto', { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' }), { index: 1, count: 4, source: 'slurm' });
  assert.deepEqual(parseShard('auto', { SLURM_ARRAY_TASK_ID: '14', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '10', SLURM_ARRAY_TASK_STEP: '2' }), { index: 3, count: 4, source: 'slurm' });
  assert.deepEqual(parseShard('auto/4', { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '0' }).index, 3);
  assert.throws(() => parseShard('auto/5', { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '4' }), /array has 4 tasks \(SLURM_ARRAY_TASK_COUNT\), not 5/);
  assert.throws(() => parseShard('auto', { SLURM_ARRAY_TASK_ID: '2' }), /SLURM_ARRAY_TASK_COUNT is not/);
  // --array=1,5,9 (a list): id 9 would be task 9 of 3
  assert.throws(() => parseShard('auto', { SLURM_ARRAY_TASK_ID: '9', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '1' }), /use a contiguous range/);
  // Kubernetes: JOB_COMPLETION_INDEX is 0-based; the count from auto/N or DNNKIT_SHARD_COUNT
  assert.deepEqual(parseShard('auto/5', { JOB_COMPLETION_INDEX: '0' }), { index: 1, count: 5, source: 'kubernetes' });
  assert.deepEqual(parseShard('auto', { JOB_COMPLETION_INDEX: '4', DNNKIT_SHARD_COUNT: '5' }), { index: 5, count: 5, source: 'kubernetes' });
  assert.throws(() => parseShard('auto', { JOB_COMPLETION_INDEX: '4' }), /give --shard auto\/N with N = the Job's completions/);
  assert.throws(() => parseShard('auto/4', { JOB_COMPLETION_INDEX: '4' }), /shard 5 of 4 does not exist/);
});

test('the shards partition the items: each item in exactly one shard, in the list order', () => {
  const items = Array.from({ length: 11 }, (_, i) => `item${i}`);
  for (const n of [1, 2, 3, 4, 11, 13]) {
    const parts = Array.from({ length: n }, (_, k) => shardItems(items, { index: k + 1, count: n, source: 'option' }));
    assert.deepEqual(parts.flat().sort(), [...items].sort(), `N=${n}: union is all`);
    for (const p of parts) assert.deepEqual(p, items.filter((x) => p.includes(x)), `N=${n}: order kept`);
    const sizes = parts.map((p) => p.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `N=${n}: balanced ${sizes}`);
  }
  assert.deepEqual(shardItems(items, { index: 2, count: 3, source: 'option' }), ['item1', 'item4', 'item7', 'item10']);
  assert.deepEqual(shardItems(items, undefined), items);
  // more shards than items: the last ones are empty, and say so
  assert.deepEqual(shardItems(items, { index: 12, count: 13, source: 'option' }), []);
  assert.match(emptyShardWarning({ index: 12, count: 13, source: 'option' }, 11) ?? '', /shard 12\/13 has no items: the run has 11/);
  assert.equal(emptyShardWarning({ index: 11, count: 13, source: 'option' }, 11), undefined);
});

test('per-shard file names do not clash and are recognised', () => {
  const s = { index: 2, count: 3 };
  assert.equal(shardFileName('run.json', s), 'run.shard-2-of-3.json');
  assert.equal(shardFileName('summary.csv', s), 'summary.shard-2-of-3.csv');
  assert.equal(shardFileName('summary.csv', undefined), 'summary.csv');
  assert.deepEqual(parseShardFileName('summary.shard-2-of-3.csv', 'summary.csv'), s);
  assert.equal(parseShardFileName('summaryXshard-2-of-3.csv', 'summary.csv'), undefined);
  assert.ok(isShardRecordName('run.shard-10-of-12.json'));
  assert.ok(!isShardRecordName('run.json') && !isShardRecordName('run.gradcam.json'));
});

test('an item is done only with its record, the same fingerprint, and its files intact', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'cat.m.gradcam.png');
  writeFileSync(file, 'png bytes');
  await writeItemRecord(dir, 'gradcam', { key: 'cat.png', name: 'cat', fingerprint: 'f1', files: [file], rows: [{ image: 'cat.png', seconds: 1 }], entries: [{ image: 'x', overlayPng: file }], seconds: 1 });
  const rec = await readDoneItem(dir, 'cat', 'gradcam', 'f1');
  assert.ok(rec, 'done');
  assert.deepEqual(rec.files, { 'cat.m.gradcam.png': 9 });
  assert.deepEqual(rec.entries, [{ image: 'x', overlayPng: 'cat.m.gradcam.png' }], 'paths stored relative to --out');
  assert.equal(await readDoneItem(dir, 'cat', 'gradcam', 'f2'), undefined, 'other settings: not done');
  assert.equal(await readDoneItem(dir, 'cat', 'shap', 'f1'), undefined, 'another method: not done');
  truncateSync(file, 3);
  assert.equal(await readDoneItem(dir, 'cat', 'gradcam', 'f1'), undefined, 'a file of another size: not done');
});

test('table columns: first appearance, seconds and files last', () => {
  assert.deepEqual(tableColumns([{ image: 'a', method: 'gradcam', layer: 'c', seconds: 1, files: 'f' }, { image: 'a', method: 'shap', vFull: 1, seconds: 1, files: 'g' }]),
    ['image', 'method', 'layer', 'vFull', 'seconds', 'files']);
});
