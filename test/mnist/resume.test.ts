/**
 * Ctrl-C during train-mnist saves a checkpoint and exits 130; --resume continues it. With the
 * same seed, the interrupted-and-resumed run ends with the same weights and metrics as an
 * uninterrupted run in another process (which also shows that runs are deterministic).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { resumeAndCompare, runAndInterrupt } from './resume_helpers.js';
import { BIN, runCli, tempDir, listFiles } from '../helpers.js';

const ARGS = ['train-mnist', '--limit', '2000', '--epochs', '3', '--batch-size', '25', '--seed', '7', '--backend', 'wasm'];

// SIGINT shortly after epoch 1's line: mid-run whatever the machine's speed (a fixed delay after
// start-up raced the whole run once training got faster, and the run finished first).
const interrupt = (out: string, afterMs: number) => runAndInterrupt(ARGS, out, /epoch 1: loss/, afterMs);

test('interrupt with SIGINT, resume, and match an uninterrupted run exactly', async (t) => {
  const ref = path.join(tempDir(t), 'ref');
  const full = await runCli([...ARGS, '--out', ref]);
  assert.equal(full.code, 0, full.stderr);

  const out = path.join(tempDir(t), 'interrupted');
  const first = await interrupt(out, 100);
  assert.equal(first.code, 130, `exit code after SIGINT: ${first.stderr}`);
  assert.match(first.stderr, /interrupted at epoch \d, batch \d+\/72: checkpoint saved in .*checkpoint; continue with: dnnkit train-mnist --resume/);
  assert.ok(existsSync(path.join(out, 'checkpoint', 'state.json')));
  assert.equal(existsSync(path.join(out, 'model.json')), false, 'no final model before the run finished');
  assert.ok(!listFiles(out).some((f) => f.includes('.dnnkit-tmp-')), 'no temp files left');

  await resumeAndCompare(out, ref);
  assert.deepEqual(readFileSync(path.join(out, 'confusion.csv'), 'utf8'), readFileSync(path.join(ref, 'confusion.csv'), 'utf8'));
  // run.json (written last) records the SHA-256 of the model it describes.
  const recorded = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')).files['weights.bin'];
  assert.equal(recorded.sha256, createHash('sha256').update(readFileSync(path.join(out, 'weights.bin'))).digest('hex'));
});

test('--resume of a folder without a checkpoint is a one-line error', async (t) => {
  const res = await runCli(['train-mnist', '--resume', tempDir(t)]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /--resume .*: no readable checkpoint\/state\.json there/);
});

test('a second train-mnist on the same --out while one runs is refused', async (t) => {
  const out = path.join(tempDir(t), 'busy');
  const child = spawn(process.execPath, [BIN, ...ARGS, '--out', out], { env: { ...process.env, FORCE_COLOR: '0' } });
  let stderr = '';
  await new Promise<void>((resolve) => child.stderr.on('data', (d) => {
    stderr += d;
    if (/MNIST from/.test(stderr)) resolve();
  }));
  const second = await runCli([...ARGS, '--out', out]);
  child.kill('SIGKILL');
  assert.equal(second.code, 2);
  assert.match(second.stderr, /another dnnkit \(pid \d+\) is writing to --out .*busy; wait for it to finish or choose another --out/);
});
