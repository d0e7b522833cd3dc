/**
 * Bad input on the command line: a one-line error naming the value and what to do, exit code 2
 * for usage errors and 1 for runtime errors, no stack trace without --debug, nothing in --out.
 */
import { test } from 'node:test';
import { ADDED_WASM_KERNELS, REPLACED_WASM_KERNELS } from '../../src/core/kernels/index.js';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, existsSync, copyFileSync } from 'node:fs';
import * as path from 'node:path';
import { runCli, tempDir, listFiles } from '../helpers.js';
import { defaultMnistDir } from '../../src/mnist/data.js';

function assertOneLineError(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `one line expected, got:\n${stderr}`);
  assert.match(lines[0], /^dnnkit: error: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
}

const USAGE_CASES: [string[], RegExp][] = [
  [['train-mnist', '--epochs', '0'], /--epochs must be between 1 and 1000, got 0/],
  [['train-mnist', '--epochs', '-1'], /--epochs must be between 1 and 1000, got -1/],
  [['train-mnist', '--epochs', 'abc'], /--epochs must be a whole number, got 'abc'/],
  [['train-mnist', '--batch-size', '1e309'], /--batch-size must be a whole number, got '1e309'/],
  [['train-mnist', '--batch-size', '0'], /--batch-size must be between 1 and 60000/],
  [['train-mnist', '--lr', '1e309'], /--lr must be a finite number, got '1e309'/],
  [['train-mnist', '--lr', '0'], /--lr must be in \(0, 10\], got 0/],
  [['train-mnist', '--lr', 'abc'], /--lr must be a finite number/],
  [['train-mnist', '--validation-split', '1'], /--validation-split must be in \[0, 1\), got 1/],
  [['train-mnist', '--limit', '-5'], /--limit must be between 1 and 60000, got -5/],
  [['train-mnist', '--seed', 'x'], /--seed must be a whole number/],
  [['train-mnist', '--frobnicate'], /unknown option '--frobnicate'/],
  [['train-mnist', '--backend', 'gpu'], /'gpu' is invalid. Allowed choices are node, wasm, cpu/],
  [['no-such-command'], /unknown command 'no-such-command'/],
];

for (const [args, pattern] of USAGE_CASES) {
  test(`usage error, exit 2: dnnkit ${args.join(' ')}`, async (t) => {
    const out = path.join(tempDir(t), 'out');
    const res = await runCli([...args, '--out', out]);
    assert.equal(res.code, 2, res.stderr);
    assertOneLineError(res.stderr, pattern);
    assert.equal(existsSync(out), false, '--out not created');
    assert.equal(res.stdout, '');
  });
}

test('runtime error, exit 1: --data-dir that does not exist', async (t) => {
  const out = path.join(tempDir(t), 'out');
  const res = await runCli(['train-mnist', '--data-dir', '/nonexistent/mnist', '--out', out]);
  assert.equal(res.code, 1);
  assertOneLineError(res.stderr, /--data-dir \/nonexistent\/mnist does not exist/);
  assert.equal(existsSync(out), false);
});

test('runtime error, exit 1: a truncated IDX file, nothing written to --out', async (t) => {
  const dir = tempDir(t);
  const src = defaultMnistDir();
  for (const f of ['train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
    copyFileSync(path.join(src, f), path.join(dir, f));
  }
  writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), Buffer.alloc(1000, 0));
  // A wrong magic first, then a truncated file with the right header.
  const out = path.join(dir, 'out');
  let res = await runCli(['train-mnist', '--data-dir', dir, '--out', out]);
  assert.equal(res.code, 1);
  assertOneLineError(res.stderr, /train-images-idx3-ubyte: wrong magic number 0 \(expected 2051/);
  const header = Buffer.alloc(1016);
  header.writeUInt32BE(2051, 0);
  header.writeUInt32BE(60000, 4);
  header.writeUInt32BE(28, 8);
  header.writeUInt32BE(28, 12);
  writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), header);
  res = await runCli(['train-mnist', '--data-dir', dir, '--out', out]);
  assert.equal(res.code, 1);
  assertOneLineError(res.stderr, /1016 bytes but the header \(60000 images of 28x28\) needs 47040016; the file is truncated/);
  assert.equal(existsSync(out), false);
});

test('usage error, exit 2: --out is an existing file', async (t) => {
  const file = path.join(tempDir(t), 'taken');
  writeFileSync(file, 'x');
  const res = await runCli(['train-mnist', '--limit', '100', '--epochs', '1', '--out', file]);
  assert.equal(res.code, 2);
  assertOneLineError(res.stderr, /--out .*taken is a file, not a directory/);
});

test('eval-mnist: a missing model and a model.json without its weights are one-line errors', async (t) => {
  const dir = tempDir(t);
  let res = await runCli(['eval-mnist', '--model', path.join(dir, 'nope'), '--out', path.join(dir, 'o1')]);
  assert.equal(res.code, 1);
  assertOneLineError(res.stderr, /model\.json not found: .*nope\/model\.json/);
  const m = path.join(dir, 'm');
  mkdirSync(m);
  writeFileSync(path.join(m, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['./weights.bin'], weights: [] }] }));
  res = await runCli(['eval-mnist', '--model', m, '--out', path.join(dir, 'o2')]);
  assert.equal(res.code, 1);
  assertOneLineError(res.stderr, /weights file .*weights\.bin named in .*model\.json is missing/);
  assert.deepEqual(listFiles(path.join(dir, 'o1')), []);
  assert.deepEqual(listFiles(path.join(dir, 'o2')), []);
});

test('--debug shows the stack trace', async (t) => {
  const res = await runCli(['eval-mnist', '--model', path.join(tempDir(t), 'nope'), '--debug']);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /^\s+at /m);
});

test('dnnkit info --json prints the backend summary as the last stdout line', async () => {
  const res = await runCli(['info', '--json']);
  assert.equal(res.code, 0, res.stderr);
  const lines = res.stdout.trim().split('\n');
  const info = JSON.parse(lines[lines.length - 1]);
  assert.ok(['node', 'wasm'].includes(info.name), `best backend is node or wasm, got ${info.name}`);
  const projectKernels = ADDED_WASM_KERNELS.length + REPLACED_WASM_KERNELS.length;
  if (info.name === 'wasm') assert.match(info.reason, new RegExp(`using wasm with ${projectKernels} project kernels`));
  assert.equal(info.tfjsVersion, '4.22.0');
});

test('--help teaches: every command is listed, options have descriptions and examples', async () => {
  const res = await runCli(['--help']);
  assert.equal(res.code, 0);
  for (const c of ['info', 'train-mnist', 'eval-mnist']) assert.match(res.stdout, new RegExp(`\\b${c}\\b`));
  const sub = await runCli(['train-mnist', '--help']);
  assert.equal(sub.code, 0);
  assert.match(sub.stdout, /--epochs <n>\s+passes over the training images \(default: 12\)/);
  assert.match(sub.stdout, /Examples:/);
});
