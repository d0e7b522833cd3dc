/** What the train-mnist Ctrl-C / --resume tests share (resume.test.ts, resume_workers.test.ts). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BIN, runCli } from '../helpers.js';

/** metrics.csv without the timing columns (seconds, samples_per_sec). */
export function metricsWithoutTimes(dir: string): string[] {
  return readFileSync(path.join(dir, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 5).join(','));
}

/** Starts `dnnkit ...args --out out` and sends SIGINT `afterMs` after stderr first matches `ready`. */
export function runAndInterrupt(args: readonly string[], out: string, ready: RegExp, afterMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, '--out', out], { env: { ...process.env, FORCE_COLOR: '0' } });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!sent && ready.test(stderr)) {
        sent = true;
        setTimeout(() => child.kill('SIGINT'), afterMs);
      }
    });
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** Resumes the interrupted run in `out` and checks it ends as the uninterrupted run in `ref`: same metrics, identical weights. */
export async function resumeAndCompare(out: string, ref: string): Promise<void> {
  const resumed = await runCli(['train-mnist', '--resume', out]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming at epoch \d, batch \d+/);
  assert.equal(existsSync(path.join(out, 'checkpoint')), false, 'checkpoint removed after a finished run');
  assert.deepEqual(metricsWithoutTimes(out), metricsWithoutTimes(ref));
  assert.ok(readFileSync(path.join(out, 'weights.bin')).equals(readFileSync(path.join(ref, 'weights.bin'))), 'identical weights');
}
