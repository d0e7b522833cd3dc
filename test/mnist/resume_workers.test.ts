/**
 * Ctrl-C and --resume with train-mnist --workers 2: the interrupted-and-resumed run ends with
 * the same weights and metrics as an uninterrupted 2-worker run in another process (the
 * checkpoint saves the worker thread's dropout stream beside the main thread's), and --resume
 * refuses to change the number of workers (the run would no longer be the same run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BIN, runCli, tempDir } from '../helpers.js';

const ARGS = ['train-mnist', '--limit', '2000', '--epochs', '2', '--batch-size', '25', '--seed', '7', '--backend', 'wasm', '--workers', '2'];

/** metrics.csv without the timing columns (seconds, samples_per_sec). */
function metricsWithoutTimes(dir: string): string[] {
  return readFileSync(path.join(dir, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 5).join(','));
}

/** Starts a run and sends SIGINT `afterMs` after its replica threads are up. */
function runAndInterrupt(out: string, afterMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...ARGS, '--out', out], { env: { ...process.env, FORCE_COLOR: '0' } });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!sent && /2 replicas: this thread and 1 worker thread/.test(stderr)) {
        sent = true;
        setTimeout(() => child.kill('SIGINT'), afterMs);
      }
    });
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

test('2 workers: interrupt with SIGINT, resume, and match an uninterrupted run exactly', async (t) => {
  const ref = path.join(tempDir(t), 'ref');
  const full = await runCli([...ARGS, '--out', ref]);
  assert.equal(full.code, 0, full.stderr);
  assert.match(full.stderr, /2 replicas: this thread and 1 worker thread/);

  const out = path.join(tempDir(t), 'interrupted');
  const first = await runAndInterrupt(out, 1500);
  assert.equal(first.code, 130, `exit code after SIGINT: ${first.stderr}`);
  assert.match(first.stderr, /interrupted at epoch \d, batch \d+\/72: checkpoint saved/);
  const state = JSON.parse(readFileSync(path.join(out, 'checkpoint', 'state.json'), 'utf8'));
  assert.equal(state.settings.workers, 2);
  assert.equal(state.replicaRandomStates.length, 1, 'the worker thread\'s dropout stream is saved');

  const changed = await runCli(['train-mnist', '--resume', out, '--workers', '1']);
  assert.equal(changed.code, 2, changed.stderr);
  assert.match(changed.stderr, /--workers 1 \(checkpoint: 2\) cannot change/);

  const resumed = await runCli(['train-mnist', '--resume', out]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming at epoch \d, batch \d+/);
  assert.equal(existsSync(path.join(out, 'checkpoint')), false, 'checkpoint removed after a finished run');
  assert.deepEqual(metricsWithoutTimes(out), metricsWithoutTimes(ref));
  assert.ok(readFileSync(path.join(out, 'weights.bin')).equals(readFileSync(path.join(ref, 'weights.bin'))), 'identical weights');
});
