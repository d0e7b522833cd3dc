/**
 * Ctrl-C during `dnnkit sst2` saves a checkpoint after the current batch and exits 130;
 * `--resume` continues it. With the same seed, the interrupted-and-resumed run ends with the same
 * weights, metrics and test accuracy as an uninterrupted run in another process. Run with the
 * weight average, an ensemble of two LSTMs and a CNN, adversarial training, prefix back-off and
 * subword vectors on, so that all their state is part of what must survive.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BIN, runCli, sst2Subset as subset, tempDir } from '../helpers.js';

const BASE_ARGS = (data: string) => ['sst2', '--data-dir', data, '--epochs', '3', '--patience', '3', '--units', '16', '--embedding-dim', '16',
  '--batch-size', '16', '--ema-decay', '0.9', '--ensemble', '2', '--cnn', '1', '--cnn-filters', '8', '--adversarial', '0.1', '--oov-prefix', '3',
  '--subwords', '3', '--embed-plot', 'none', '--seed', '5', '--backend', 'wasm'];

/** metrics.csv without the seconds column. */
const metrics = (dir: string) => readFileSync(path.join(dir, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 5).join(','));
const result = (dir: string) => {
  const r = JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')).result;
  return [r.devAccuracy, r.testAccuracy, r.bestEpoch, r.epochs];
};

/**
 * Runs the command uninterrupted, and again interrupted at the start of epoch 2 and resumed;
 * both must end the same.
 */
async function interruptAndResume(t: TestContext, extra: string[]): Promise<string> {
  const dir = tempDir(t);
  const data = subset(dir, { train: 800, dev: 150, test: 150 });
  const ARGS = (d: string) => [...BASE_ARGS(d), ...extra];
  const ref = path.join(dir, 'ref');
  const full = await runCli([...ARGS(data), '--out', ref]);
  assert.equal(full.code, 0, full.stderr);

  const out = path.join(dir, 'interrupted');
  const first = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...ARGS(data), '--out', out], { env: { ...process.env, FORCE_COLOR: '0' } });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d) => {
      stderr += d;
      // Interrupt as epoch 1 ends (epochs take well under a second with the native LSTM), so that
      // the checkpoint holds a finished epoch and a partial one: the run stops after a batch of epoch 2.
      if (!sent && /epoch 1: loss/.test(stderr)) { sent = true; child.kill('SIGINT'); }
    });
    child.on('close', (code) => resolve({ code, stderr }));
  });
  assert.equal(first.code, 130, `exit code after SIGINT: ${first.stderr}`);
  const at = /interrupted at epoch 2, batch (\d+)\/(\d+): checkpoint saved in .*checkpoint; continue with: dnnkit sst2 --resume/.exec(first.stderr);
  assert.ok(at, `interrupted during epoch 2: ${first.stderr}`);
  assert.ok(Number(at[1]) < Number(at[2]), 'stopped mid-epoch');
  assert.ok(existsSync(path.join(out, 'checkpoint', 'state.json')));
  assert.equal(existsSync(path.join(out, 'run.json')), false, 'no run.json before the run finished');

  // A resumed run keeps the checkpoint's settings: an option that would change them is refused,
  // and the checkpoint is kept; the same value as the checkpoint's is accepted.
  const stateBefore = readFileSync(path.join(out, 'checkpoint', 'state.json'));
  const conflicting = await runCli(['sst2', '--resume', out, '--epochs', '1']);
  assert.equal(conflicting.code, 2, conflicting.stderr);
  assert.match(conflicting.stderr, /dnnkit: error: --resume .* continues with the checkpoint's settings: --epochs 1 \(checkpoint: 3\) cannot change/);
  assert.ok(readFileSync(path.join(out, 'checkpoint', 'state.json')).equals(stateBefore), 'checkpoint kept');
  const resumed = await runCli(['sst2', '--resume', out, '--epochs', '3']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming at epoch 2, batch \d+/);
  assert.equal(existsSync(path.join(out, 'checkpoint')), false, 'checkpoint removed after a finished run');
  assert.deepEqual(metrics(out), metrics(ref));
  assert.deepEqual(result(out), result(ref));
  assert.ok(readFileSync(path.join(out, 'model', 'weights.bin')).equals(readFileSync(path.join(ref, 'model', 'weights.bin'))), 'identical best-dev weights');
  assert.deepEqual(readFileSync(path.join(out, 'features.csv'), 'utf8'), readFileSync(path.join(ref, 'features.csv'), 'utf8'));
  // run.json records the model it describes.
  const recorded = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')).files['model/weights.bin'];
  assert.equal(recorded.sha256, createHash('sha256').update(readFileSync(path.join(out, 'model', 'weights.bin'))).digest('hex'));
  return readFileSync(path.join(ref, 'metrics.csv'), 'utf8');
}

test('sst2: interrupt with SIGINT mid-epoch, resume, and match an uninterrupted run exactly', async (t) => {
  await interruptAndResume(t, []);
});

test('sst2 --early-stopping network: the kept networks and their best epochs survive an interruption', async (t) => {
  // The checkpoint's networks continue training while their kept copies (from epoch 1, read back
  // from the model folder on resume) wait to be beaten.
  const metricsCsv = await interruptAndResume(t, ['--early-stopping', 'network', '--patience', '1']);
  assert.match(metricsCsv.split('\n')[0], /dev_acc_net1,dev_acc_net2,dev_acc_net3$/);
});

test('sst2 --resume of a folder without a checkpoint, or with a damaged one, is a one-line error', async (t) => {
  const dir = tempDir(t);
  const none = await runCli(['sst2', '--resume', dir]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /--resume .*: no readable checkpoint\/state\.json there; give the --out folder of an interrupted dnnkit sst2 run/);
  assert.doesNotMatch(none.stderr, /\n\s+at /, 'no stack trace');
  mkdirSync(path.join(dir, 'checkpoint'));
  writeFileSync(path.join(dir, 'checkpoint', 'state.json'), JSON.stringify({ version: 1, tensors: [{ name: 'model/embedding', shape: [4, 2], dtype: 'float32' }] }));
  writeFileSync(path.join(dir, 'checkpoint', 'tensors.bin'), Buffer.alloc(8));
  const damaged = await runCli(['sst2', '--resume', dir]);
  assert.equal(damaged.code, 1);
  assert.match(damaged.stderr, /tensors\.bin is missing or holds 8 bytes instead of 32; the checkpoint is damaged/);
  // A checkpoint of the trainer before core/table_adam.ts (no table moments) cannot continue.
  writeFileSync(path.join(dir, 'checkpoint', 'tensors.bin'), Buffer.alloc(32));
  const older = await runCli(['sst2', '--resume', dir]);
  assert.equal(older.code, 1);
  assert.equal(older.stderr.trim().split('\n').length, 1, older.stderr);
  assert.match(older.stderr, /written by an older dnnkit, whose optimizer state this version cannot continue; start the run again with --restart/);
});
