/**
 * One run record (issue 14, item 2): every command that writes to --out writes run.json with the
 * schema of docs/run-record.schema.json, validated here with ajv (a maintained JSON Schema
 * validator; a devDependency). Records of commands whose module has not yet moved to the shared
 * record (core/run_record.ts buildRunRecord, or returning `recorded(...)` to action()) are
 * checked as TODO tests: they report without failing the suite until the module adopts it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Ajv } from 'ajv';
import { saveModel } from '../../src/core/model_io.js';
import { buildRunRecord, dnnkitVersion, writeCommandRecord } from '../../src/core/run_record.js';
import { lastJson, ROOT, runCli, tempDir } from '../helpers.js';

const schema = JSON.parse(readFileSync(path.join(ROOT, 'docs', 'run-record.schema.json'), 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

function assertValid(record: unknown, what: string): void {
  const ok = validate(record);
  assert.ok(ok, `${what}: run.json does not match docs/run-record.schema.json: ${JSON.stringify(validate.errors?.slice(0, 5))}`);
}

/** Reads <dir>/run.json, validates it, and checks each listed file's size and SHA-256. */
function checkRunJson(dir: string, what: string): Record<string, unknown> {
  const record = JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')) as Record<string, unknown>;
  assertValid(record, what);
  for (const [f, d] of Object.entries(record.files as Record<string, { bytes: number; sha256: string }>)) {
    const bytes = readFileSync(path.join(dir, f));
    assert.deepEqual({ bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }, d, `${what}: ${f}`);
  }
  return record;
}

test('package version, and a record built in-process matches the schema; the schema rejects a wrong one', async (t) => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(dnnkitVersion(), pkg.version);
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'a.csv'), 'x\n1\n');
  const started = new Date(Date.now() - 1500);
  const record = await writeCommandRecord(dir, { command: 'test', settings: { seed: 7, k: undefined }, result: { ok: true }, started }, ['a.csv', 'missing.csv']);
  assert.equal(record.seed, 7, 'the seed is taken from the settings');
  assert.ok(record.wallSeconds >= 1.5 && record.peakRssBytes > 10e6);
  const written = checkRunJson(dir, 'in-process');
  assert.deepEqual(Object.keys(written.files as object), ['a.csv'], 'a listed file the run did not write is left out');
  assert.deepEqual(written.argv, [], 'a library call has no argv');

  const good = buildRunRecord({ command: 'x', settings: {}, result: null, started });
  assert.equal(validate({ ...good, files: {} }), true);
  for (const broken of [
    { ...good, files: {}, wallSeconds: -1 },
    { ...good, files: { f: { bytes: 1, sha256: 'abc' } } },
    { ...good }, // no files
    { ...good, files: {}, extra: 1 },
    { ...good, files: {}, backend: { name: 'gpu' } },
  ]) assert.equal(validate(broken), false, JSON.stringify(broken).slice(0, 80));
});

/** A tiny image classifier saved to `dir` ([16,12,3] -> conv 'conv' -> 4 classes, softmax). */
async function tinyClassifier(dir: string): Promise<string> {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [16, 12, 3], filters: 2, kernelSize: 3, activation: 'relu', name: 'conv' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4, activation: 'softmax' }),
    ],
  });
  await saveModel(m, dir);
  m.dispose();
  return dir;
}

test('classify: predictions.csv + run.json (schema-valid); result = the --json summary', async (t) => {
  const dir = tempDir(t);
  const model = await tinyClassifier(path.join(dir, 'm'));
  const out = path.join(dir, 'out');
  const img = path.join(ROOT, 'data', 'images', 'chelsea.png');
  const res = await runCli(['classify', '--model', model, img, '--out', out, '--json', '--seed', '3']);
  assert.equal(res.code, 0, res.stderr);
  const record = checkRunJson(out, 'classify');
  assert.deepEqual(record.result, lastJson(res));
  assert.deepEqual([record.command, record.seed, record.argv], ['classify', 3, ['classify', '--model', model, img, '--out', out, '--json', '--seed', '3']]);
  assert.equal((record.backend as { name: string }).name, (lastJson(res) as { backend: string }).backend);
  assert.deepEqual(Object.keys(record.files as object), ['predictions.csv']);
});

// Module commands: TODO until their module writes the shared record (see the report of issue 14).
const MODULE_COMMANDS: Array<{ name: string; args: (dir: string) => string[] | Promise<string[]> }> = [
  { name: 'train-mnist', args: () => ['train-mnist', '--epochs', '1', '--limit', '200'] },
  {
    name: 'project',
    args: (dir) => {
      const rows = Array.from({ length: 24 }, (_, i) => `${i % 3},${Math.sin(i)},${Math.cos(i)},${i / 10}`);
      writeFileSync(path.join(dir, 'f.csv'), ['label,a,b,c', ...rows].join('\n') + '\n');
      return ['project', path.join(dir, 'f.csv'), '--method', 'pca'];
    },
  },
  {
    name: 'gradcam',
    args: async (dir) => ['gradcam', '--model', await tinyClassifier(path.join(dir, 'm')), '--layer', 'conv', path.join(ROOT, 'data', 'images', 'chelsea.png')],
  },
];

for (const c of MODULE_COMMANDS) {
  test(`${c.name}: run.json matches the schema`, async (t) => {
    const dir = tempDir(t);
    const out = path.join(dir, 'out');
    const res = await runCli([...(await c.args(dir)), '--out', out, '--json'], { timeoutMs: 120_000 });
    assert.equal(res.code, 0, res.stderr);
    const record = checkRunJson(out, c.name);
    assert.deepEqual(record.result, lastJson(res));
  });
}
