/**
 * Crash consistency of checkpoints and run outputs (issue 20): a checkpoint is one unit (its
 * payload files must match the state.json they were written with, and a kill while a new
 * checkpoint replaces the old one leaves one that --resume finds), a run's run.json never sits
 * beside files it does not describe, an interrupted run's checkpoint is not thrown away by a
 * run started without --resume, a run whose loss stops being finite fails instead of saving its
 * weights as the result, and --resume refuses options that conflict with the checkpoint and state
 * counters no run can have.
 *
 * Torn states are built deterministically from real checkpoints (the weights of a later
 * checkpoint beside an earlier state.json, a checkpoint caught between two renames), rather
 * than by racing signals against the writer.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BIN, listFiles, runCli, sst2Subset } from '../helpers.js';
import { assertCleanError } from './fixtures.js';
import { readCheckpoint, writeCheckpoint, type CheckpointStep } from '../../src/core/checkpoint.js';

const MNIST = ['train-mnist', '--limit', '600', '--epochs', '3', '--batch-size', '20', '--seed', '3', '--backend', 'wasm'];
const SST2 = (data: string) => ['sst2', '--data-dir', data, '--epochs', '2', '--ensemble', '1', '--units', '8', '--embedding-dim', '8',
  '--batch-size', '16', '--embed-plot', 'none', '--seed', '3', '--backend', 'wasm'];

let work: string;
before(() => {
  work = mkdtempSync(path.join(tmpdir(), 'dnnkit-ckpt-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
/** A fresh folder under the test's work folder. */
const fresh = (name: string) => path.join(work, `${name}-${++n}`);
/** A copy of a run folder (to damage one copy per test). */
function copyOf(src: string, name: string): string {
  const dst = fresh(name);
  cpSync(src, dst, { recursive: true });
  return dst;
}
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
/** Every file under `dir` with its SHA-256 (to show a folder was left as it was). */
const snapshot = (dir: string) => Object.fromEntries(listFiles(dir).map((f) => [f, sha(path.join(dir, f))]));
const metrics = (dir: string) => readFileSync(path.join(dir, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 5).join(','));

/** Runs the CLI and sends `signal` once stderr matches `when` (or once `poll` returns true). */
function runAndSignal(args: string[], signal: NodeJS.Signals, when: RegExp | (() => boolean)): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, FORCE_COLOR: '0' } });
    let stderr = '';
    let sent = false;
    const send = () => {
      if (!sent) { sent = true; child.kill(signal); }
    };
    child.stderr.on('data', (d) => {
      stderr += d;
      if (when instanceof RegExp && when.test(stderr)) send();
    });
    const timer = when instanceof RegExp ? undefined : setInterval(() => { if (when()) send(); }, 1);
    child.on('close', (code, sig) => { clearInterval(timer); resolve({ code, signal: sig, stderr }); });
  });
}

/**
 * train-mnist runs shared by the tests (built once): `ref` uninterrupted; `a` interrupted as
 * epoch 1 ends (its checkpoint is at epoch 2); `b` = `a` resumed and interrupted as epoch 2 ends
 * (its checkpoint is at epoch 3).
 */
let mnistRuns: Promise<{ ref: string; a: string; b: string }> | undefined;
function mnist(): Promise<{ ref: string; a: string; b: string }> {
  mnistRuns ??= (async () => {
    const ref = fresh('mnist-ref');
    const full = await runCli([...MNIST, '--out', ref]);
    assert.equal(full.code, 0, full.stderr);
    const a = fresh('mnist-a');
    const first = await runAndSignal([...MNIST, '--out', a], 'SIGINT', /epoch 1: loss/);
    assert.equal(first.code, 130, first.stderr);
    assert.match(first.stderr, /interrupted at epoch 2, /);
    const b = copyOf(a, 'mnist-b');
    const second = await runAndSignal(['train-mnist', '--resume', b], 'SIGINT', /epoch 2: loss/);
    assert.equal(second.code, 130, second.stderr);
    assert.match(second.stderr, /interrupted at epoch 3, /);
    return { ref, a, b };
  })();
  return mnistRuns;
}

/** An sst2 run on 300-line splits interrupted as epoch 1 ends (checkpoint at epoch 2). */
let sst2Run: Promise<{ data: string; a: string }> | undefined;
function sst2(): Promise<{ data: string; a: string }> {
  sst2Run ??= (async () => {
    const data = sst2Subset(fresh('sst2-data'), { train: 300, dev: 100, test: 100 });
    const a = fresh('sst2-a');
    const first = await runAndSignal([...SST2(data), '--out', a], 'SIGINT', /epoch 1: loss/);
    assert.equal(first.code, 130, first.stderr);
    assert.match(first.stderr, /interrupted at epoch 2, /);
    return { data, a };
  })();
  return sst2Run;
}

// --- High: torn checkpoints ---------------------------------------------------------------

test('core checkpoint: a write stopped between any two of its steps leaves the old or the new checkpoint whole, never a mix', async () => {
  const steps: CheckpointStep[] = ['staged', 'published', 'old-moved', 'swapped'];
  const write = (out: string, n: number, stopAt?: CheckpointStep) => writeCheckpoint(out, { version: 1, n },
    async (dir) => writeFileSync(path.join(dir, 'weights.bin'), Buffer.alloc(64, n)),
    (step) => { if (step === stopAt) throw new Error(`killed after ${step}`); });
  for (const step of steps) {
    const out = fresh(`core-${step}`);
    mkdirSync(out);
    await write(out, 1);
    await assert.rejects(write(out, 2, step), /killed/);
    const { state, dir } = await readCheckpoint(out, 'test');
    const n = step === 'staged' ? 1 : 2; // once published, the new checkpoint is the one found
    assert.equal(state.n, n, `stopped after ${step}`);
    assert.ok(readFileSync(path.join(dir, 'weights.bin')).equals(Buffer.alloc(64, n)), `the weights of checkpoint ${n} (stopped after ${step})`);
    assert.deepEqual(readdirSync(out).filter((f) => f.startsWith('checkpoint')), ['checkpoint'], 'put back in place, leftovers removed');
  }
});

test('train-mnist --resume refuses a torn checkpoint: the weights of a later checkpoint beside the earlier state.json', async () => {
  const { a, b } = await mnist();
  // What a kill between the two renames of the old writer left: new weights, old state.
  const torn = copyOf(a, 'mnist-torn');
  for (const f of ['model.json', 'weights.bin']) cpSync(path.join(b, 'checkpoint', f), path.join(torn, 'checkpoint', f));
  const before = snapshot(torn);
  const res = await runCli(['train-mnist', '--resume', torn]);
  assertCleanError(res, 1, /--resume .*checkpoint\/(weights\.bin|model\.json) does not match its state\.json .*--restart/);
  assert.deepEqual(snapshot(torn), before, 'the checkpoint is left as it was');
});

test('sst2 --resume refuses a checkpoint whose tensors.bin is not the one its state.json was written with', async () => {
  const { a } = await sst2();
  const torn = copyOf(a, 'sst2-torn');
  const file = path.join(torn, 'checkpoint', 'tensors.bin');
  const bytes = readFileSync(file);
  bytes.writeFloatLE(bytes.readFloatLE(64) + 0.5, 64); // same size, other weights
  writeFileSync(file, bytes);
  const res = await runCli(['sst2', '--resume', torn]);
  assertCleanError(res, 1, /--resume .*checkpoint\/tensors\.bin does not match its state\.json .*--restart/);
});

test('a kill while a new checkpoint replaces the old one: --resume takes the newer complete one and ends as an uninterrupted run', async () => {
  const { ref, a, b } = await mnist();
  // The moment after the old checkpoint was moved aside and before the new one took its name.
  const out = copyOf(a, 'mnist-swap');
  renameSync(path.join(out, 'checkpoint'), path.join(out, 'checkpoint.old'));
  cpSync(path.join(b, 'checkpoint'), path.join(out, 'checkpoint.new'), { recursive: true });
  const res = await runCli(['train-mnist', '--resume', out]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /resuming at epoch 3, /);
  assert.ok(readFileSync(path.join(out, 'weights.bin')).equals(readFileSync(path.join(ref, 'weights.bin'))), 'identical weights');
  assert.deepEqual(metrics(out), metrics(ref));
  assert.deepEqual(listFiles(out).filter((f) => f.startsWith('checkpoint')), [], 'no checkpoint left after the finished run');
});

// --- High: run outputs --------------------------------------------------------------------

/** Asserts that run.json in `out` is absent or records the SHA-256 of every file it lists, matching the files there. */
function assertRunRecordMatches(out: string): void {
  const file = path.join(out, 'run.json');
  if (!existsSync(file)) return;
  const run = JSON.parse(readFileSync(file, 'utf8')) as { files?: Record<string, { sha256: string; bytes: number }> };
  assert.ok(run.files && Object.keys(run.files).length > 0, `run.json lists the files it describes with their SHA-256: ${Object.keys(run)}`);
  for (const [name, rec] of Object.entries(run.files)) {
    assert.equal(sha(path.join(out, name)), rec.sha256, `${name} is the file run.json describes`);
    assert.equal(statSync(path.join(out, name)).size, rec.bytes);
  }
}

test('train-mnist into a finished run\'s --out, killed after the new weights are written: no run.json describes other files', async () => {
  const { ref } = await mnist();
  assertRunRecordMatches(ref); // a finished run records what it wrote
  const out = copyOf(ref, 'mnist-rerun');
  const oldWeights = statSync(path.join(out, 'weights.bin')).ino;
  const res = await runAndSignal([...MNIST, '--seed', '4', '--out', out], 'SIGKILL', () => {
    try {
      return statSync(path.join(out, 'weights.bin')).ino !== oldWeights;
    } catch {
      return false;
    }
  });
  assert.equal(res.signal, 'SIGKILL', `killed while writing outputs: ${res.stderr}`);
  assertRunRecordMatches(out);
});

test('sst2 into a finished run\'s --out, killed after the new best model is saved: no run.json describes other files', async () => {
  const { data } = await sst2();
  const out = fresh('sst2-rerun');
  const full = await runCli([...SST2(data), '--epochs', '1', '--out', out]);
  assert.equal(full.code, 0, full.stderr);
  assertRunRecordMatches(out);
  const oldModel = statSync(path.join(out, 'model', 'weights.bin')).ino;
  const res = await runAndSignal([...SST2(data), '--seed', '4', '--out', out], 'SIGKILL', () => {
    try {
      return statSync(path.join(out, 'model', 'weights.bin')).ino !== oldModel;
    } catch {
      return false;
    }
  });
  assert.equal(res.signal, 'SIGKILL', `killed while training: ${res.stderr}`);
  assertRunRecordMatches(out);
});

// --- Medium: a run without --resume keeps an interrupted run's checkpoint ----------------------

test('train-mnist without --resume into an interrupted run\'s --out is refused (naming --resume and --restart); --restart starts over', async () => {
  const { a } = await mnist();
  const out = copyOf(a, 'mnist-again');
  const before = snapshot(out);
  const res = await runCli([...MNIST, '--out', out]);
  assertCleanError(res, 2, /--out .* holds the checkpoint of an interrupted train-mnist run; continue it with --resume .*, or add --restart to discard it and start over/);
  assert.deepEqual(snapshot(out), before, 'the checkpoint is kept');
  const restarted = await runCli([...MNIST, '--epochs', '1', '--restart', '--out', out]);
  assert.equal(restarted.code, 0, restarted.stderr);
  assert.deepEqual(listFiles(out).filter((f) => f.startsWith('checkpoint')), [], 'the checkpoint is gone after --restart finished');
});

test('sst2 and sst2 repeat without --resume into an interrupted run\'s folder are refused before training anything', async () => {
  const { data, a } = await sst2();
  const out = copyOf(a, 'sst2-again');
  const before = snapshot(out);
  const res = await runCli([...SST2(data), '--out', out]);
  assertCleanError(res, 2, /holds the checkpoint of an interrupted dnnkit sst2 run; continue it with --resume .*, or add --restart/);
  assert.deepEqual(snapshot(out), before, 'the checkpoint is kept');
  // repeat: seed 2's folder holds an interrupted run; seed 1 must not be trained first.
  const rep = fresh('sst2-repeat');
  mkdirSync(rep);
  cpSync(out, path.join(rep, 'seed-2'), { recursive: true });
  const r = await runCli(['sst2', 'repeat', '--seeds', '1,2', ...SST2(data).slice(1), '--out', rep]);
  assertCleanError(r, 2, /seed-2 holds the checkpoint of an interrupted dnnkit sst2 run; continue it with --resume .*, or add --restart/);
  assert.equal(existsSync(path.join(rep, 'seed-1')), false, 'seed 1 was not trained');
});

// --- Medium: non-finite loss ------------------------------------------------------------------

test('sst2 --weight-decay 1e6: stops at the first non-finite loss with one error line and saves no model', async () => {
  const { data } = await sst2();
  const out = fresh('sst2-nan');
  const res = await runCli([...SST2(data), '--weight-decay', '1e6', '--out', out]);
  assertCleanError(res, 1, /training diverged at epoch 1, batch \d+: the loss is (NaN|-?Infinity); no result was saved/);
  assert.equal(existsSync(path.join(out, 'model')), false, 'no model saved');
  assert.equal(existsSync(path.join(out, 'run.json')), false, 'no run.json');
});

test('train-mnist: weights that turn the loss NaN (an old-format checkpoint with NaN weights) stop the run; nothing is saved as a result', async () => {
  const { a } = await mnist();
  const out = copyOf(a, 'mnist-nan');
  // Old checkpoints carry no checksums; fill the first kernel's weights with NaN.
  const stateFile = path.join(out, 'checkpoint', 'state.json');
  const state = JSON.parse(readFileSync(stateFile, 'utf8'));
  delete state.payload;
  writeFileSync(stateFile, JSON.stringify(state));
  const wfile = path.join(out, 'checkpoint', 'weights.bin');
  const w = readFileSync(wfile);
  for (let i = 0; i < 64; i++) w.writeFloatLE(NaN, 4 * i);
  writeFileSync(wfile, w);
  const res = await runCli(['train-mnist', '--resume', out]);
  // (tfjs clips the training loss's probabilities, so here it is the validation loss that shows it.)
  assertCleanError(res, 1, /training diverged at epoch 2(, batch \d+)?: the (validation )?loss is (NaN|-?Infinity); no result was saved/);
  assert.equal(existsSync(path.join(out, 'model.json')), false, 'no model saved');
  assert.equal(existsSync(path.join(out, 'run.json')), false, 'no run.json');
});

// --- Low: --resume with conflicting options, impossible counters ------------------------------

test('train-mnist --resume with options that conflict with the checkpoint is a usage error naming them', async () => {
  const { a } = await mnist();
  const out = copyOf(a, 'mnist-conflict');
  const before = snapshot(out);
  const res = await runCli(['train-mnist', '--resume', out, '--epochs', '5', '--seed', '99']);
  assertCleanError(res, 2, /--resume .* continues with the checkpoint's settings: --epochs 5 \(checkpoint: 3\), --seed 99 \(checkpoint: 3\) cannot change/);
  assert.deepEqual(snapshot(out), before, 'the checkpoint is left as it was');
  const restart = await runCli(['train-mnist', '--resume', out, '--restart']);
  assertCleanError(restart, 2, /--resume and --restart/);
});

test('--resume refuses a state.json with impossible counters ("epoch": -3), for train-mnist and sst2', async () => {
  const { a } = await mnist();
  const out = copyOf(a, 'mnist-epoch');
  const stateFile = path.join(out, 'checkpoint', 'state.json');
  writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(readFileSync(stateFile, 'utf8')), epoch: -3 }));
  const res = await runCli(['train-mnist', '--resume', out]);
  assertCleanError(res, 1, /state\.json: "epoch" is -3, expected a whole number from 1 to 3; .*--restart/);

  const { a: s } = await sst2();
  const sout = copyOf(s, 'sst2-epoch');
  const sfile = path.join(sout, 'checkpoint', 'state.json');
  writeFileSync(sfile, JSON.stringify({ ...JSON.parse(readFileSync(sfile, 'utf8')), batch: 1e9 }));
  const sres = await runCli(['sst2', '--resume', sout]);
  assertCleanError(sres, 1, /state\.json: "batch" is 1000000000, expected a whole number from 0 to \d+; .*--restart/);
});
