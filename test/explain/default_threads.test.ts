/**
 * The image commands compute with every core by default (defaultThreads in core/command.ts);
 * --threads and DNNKIT_WASM_THREADS override it, training commands stay on 1 thread, the maps
 * computed on every core equal the 1-thread maps up to float rounding, and a second run on every
 * core gives the same map.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { ALL_CORES_COMMANDS, defaultThreads } from '../../src/core/command.js';
import { initBackend } from '../../src/core/backend.js';
import { saveModel } from '../../src/core/model_io.js';
import { MAX_WASM_THREADS, WASM_THREADS_ENV } from '../../src/core/wasm_threads.js';
import { runCli, tempDir } from '../helpers.js';
import { maxAbsDiff, sequentialCnn } from './tiny_models.js';

const CORES = Math.min(availableParallelism(), MAX_WASM_THREADS);

test('default threads: every core for gradcam, shap, explain and classify; 1 for training and the rest', () => {
  for (const c of ['gradcam', 'shap', 'explain', 'classify']) assert.equal(defaultThreads(c), CORES, c);
  for (const c of ['train-mnist', 'sst2', 'explain-eval', 'explain-text', 'project']) assert.equal(defaultThreads(c), 1, c);
  assert.deepEqual([...ALL_CORES_COMMANDS].sort(), ['classify', 'explain', 'gradcam', 'shap']);
});

test('gradcam: every core unless --threads or DNNKIT_WASM_THREADS says otherwise; the same map', async (t) => {
  const dir = tempDir(t);
  await initBackend('wasm');
  const model = path.join(dir, 'model');
  await saveModel(sequentialCnn('softmax', 5), model);
  const png = path.join(dir, 'img.png');
  await sharp(Buffer.from(Array.from({ length: 12 * 12 }, (_, i) => (i * 37) % 256)), { raw: { width: 12, height: 12, channels: 1 } }).png().toFile(png);
  const noEnv = { [WASM_THREADS_ENV]: '' };
  const run = async (name: string, extra: string[], env: NodeJS.ProcessEnv) => {
    const out = path.join(dir, name);
    const res = await runCli(['gradcam', '--model', model, '--raw', 'csv', '--out', out, ...extra, png], { env });
    assert.equal(res.code, 0, res.stderr);
    const threads = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')).backend.threads as number;
    const csv = readdirSync(out).find((f) => f.endsWith('.csv') && f !== 'summary.csv');
    assert.ok(csv, `a raw map in ${readdirSync(out).join(', ')}`);
    const values = readFileSync(path.join(out, csv), 'utf8').trim().split('\n').slice(1).flatMap((l) => l.split(',').map(Number)).filter((v) => !Number.isNaN(v));
    return { threads, values };
  };
  const all = await run('default', [], noEnv);
  const again = await run('default-again', [], noEnv);
  const one = await run('one', ['--threads', '1'], noEnv);
  const envOne = await run('env-one', [], { [WASM_THREADS_ENV]: '1' });
  assert.equal(all.threads, CORES);
  assert.equal(one.threads, 1);
  assert.equal(envOne.threads, 1);
  assert.equal(all.values.length, one.values.length);
  assert.ok(all.values.length > 0);
  assert.ok(maxAbsDiff(all.values, one.values) <= 1e-5, `max |every core - 1 thread| = ${maxAbsDiff(all.values, one.values)}`);
  assert.deepEqual(envOne.values, one.values);
  assert.deepEqual(again.values, all.values, 'every core: the same map on a second run');
});
