/**
 * Ctrl-C and --resume with train-mnist --workers 2: the interrupted-and-resumed run ends with
 * the same weights and metrics as an uninterrupted 2-worker run in another process (the
 * checkpoint saves the worker thread's dropout stream beside the main thread's), and --resume
 * refuses to change the number of workers (the run would no longer be the same run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { resumeAndCompare, runAndInterrupt } from './resume_helpers.js';
import { runCli, tempDir } from '../helpers.js';

const ARGS = ['train-mnist', '--limit', '2000', '--epochs', '3', '--batch-size', '25', '--seed', '7', '--backend', 'wasm', '--workers', '2'];

// SIGINT shortly after epoch 1's line: mid-run whatever the machine's speed (a fixed delay after
// start-up raced the whole run once training got faster, and the run finished first).
const interrupt = (out: string, afterMs: number) => runAndInterrupt(ARGS, out, /epoch 1: loss/, afterMs);

test('2 workers: interrupt with SIGINT, resume, and match an uninterrupted run exactly', async (t) => {
  const ref = path.join(tempDir(t), 'ref');
  const full = await runCli([...ARGS, '--out', ref]);
  assert.equal(full.code, 0, full.stderr);
  assert.match(full.stderr, /2 replicas: this thread and 1 worker thread/);

  const out = path.join(tempDir(t), 'interrupted');
  const first = await interrupt(out, 100);
  assert.equal(first.code, 130, `exit code after SIGINT: ${first.stderr}`);
  assert.match(first.stderr, /interrupted at epoch \d, batch \d+\/72: checkpoint saved/);
  const state = JSON.parse(readFileSync(path.join(out, 'checkpoint', 'state.json'), 'utf8'));
  assert.equal(state.settings.workers, 2);
  assert.equal(state.replicaRandomStates.length, 1, 'the worker thread\'s dropout stream is saved');

  const changed = await runCli(['train-mnist', '--resume', out, '--workers', '1']);
  assert.equal(changed.code, 2, changed.stderr);
  assert.match(changed.stderr, /--workers 1 \(checkpoint: 2\) cannot change/);

  await resumeAndCompare(out, ref);
});
