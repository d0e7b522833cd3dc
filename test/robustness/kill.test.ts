/**
 * kill -9 at any moment never leaves a half-written output: train-mnist is killed (SIGKILL, no
 * handler runs) during training and at five points of its output writing. Every file
 * left under its final name must be complete; leftovers may only be `.dnnkit-tmp-*` files and the
 * lock, and the next run into the same --out takes over the stale lock, removes the leftovers and
 * finishes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { BIN, runCli, tempDir } from '../helpers.js';

const ARGS = ['train-mnist', '--limit', '600', '--epochs', '1', '--batch-size', '50', '--seed', '11', '--backend', 'wasm'];

/**
 * Runs train-mnist into `out` and SIGKILLs it: 300 ms into training (`'training'`), as soon as
 * the first temporary output file appears (`0`), or as soon as `n` outputs exist under their
 * final names (`n`). Triggers follow the run's own progress, so they hit the same phases on a
 * slow or a fast machine.
 */
function runAndKill(out: string, trigger: 'training' | number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...ARGS, '--out', out], { env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (trigger === 'training' && !sent && /MNIST from/.test(stderr)) { sent = true; setTimeout(() => child.kill('SIGKILL'), 300); }
    });
    const poll = setInterval(() => {
      if (trigger === 'training' || sent || !existsSync(out)) return;
      const names = readdirSync(out);
      const final = names.filter((n) => !n.startsWith('.')).length;
      if (trigger === 0 ? names.some((n) => n.startsWith('.dnnkit-tmp-')) : final >= trigger) { sent = true; child.kill('SIGKILL'); }
    }, 1);
    child.on('close', (code, signal) => { clearInterval(poll); resolve({ code, signal }); });
  });
}

/** Asserts that every output under its final name is whole; returns the names of the leftovers. */
async function checkComplete(out: string, ref: string): Promise<string[]> {
  const leftovers: string[] = [];
  for (const name of readdirSync(out)) {
    const file = path.join(out, name);
    if (name.startsWith('.dnnkit-tmp-') || name === '.dnnkit.lock') { leftovers.push(name); continue; }
    if (statSync(file).isDirectory()) continue; // checkpoint/ is not written by an uninterrupted run
    const refFile = path.join(ref, name);
    assert.ok(existsSync(refFile), `${name} is not an output of train-mnist`);
    if (name.endsWith('.json')) JSON.parse(readFileSync(file, 'utf8'));
    else if (name.endsWith('.csv')) assert.equal(readFileSync(file, 'utf8').split('\n').length, readFileSync(refFile, 'utf8').split('\n').length, `${name} has all its rows`);
    else if (name.endsWith('.png')) await sharp(file).raw().toBuffer(); // a truncated PNG fails to decode
    else if (name.endsWith('.svg')) assert.match(readFileSync(file, 'utf8').trimEnd(), /<\/svg>$/, `${name} is complete`);
    else if (name.endsWith('.html')) assert.match(readFileSync(file, 'utf8').trimEnd(), /<\/html>$/i, `${name} is complete`); // report.html states times: its size varies
    else assert.equal(statSync(file).size, statSync(refFile).size, `${name} has its full size`);
  }
  return leftovers;
}

test('kill -9 during training and while writing outputs: no half-written file; the next run cleans up and finishes', async (t) => {
  const dir = tempDir(t);
  const ref = path.join(dir, 'ref');
  const full = await runCli([...ARGS, '--out', ref]);
  assert.equal(full.code, 0, full.stderr);

  const kills: Array<'training' | number> = ['training', 0, 2, 4, 6, 8];
  let killed = 0;
  let lastOut = '';
  for (const [i, trigger] of kills.entries()) {
    const out = path.join(dir, `kill${i}`);
    const r = await runAndKill(out, trigger);
    if (r.signal === 'SIGKILL') killed++;
    else assert.equal(r.code, 0, `a run that was not killed finished normally (kill ${i})`);
    const leftovers = await checkComplete(out, ref);
    const whole = readdirSync(out).filter((n) => !leftovers.includes(n));
    t.diagnostic(`kill ${i} (${trigger === 'training' ? 'during training' : `at ${trigger} outputs written`}): ${r.signal ?? `exit ${r.code}`}; complete outputs: ${whole.length}; leftovers: ${leftovers.join(' ') || 'none'}`);
    lastOut = out;
  }
  assert.ok(killed >= kills.length - 1, `${killed} of ${kills.length} runs were killed before they finished`);

  // The next run into a killed run's --out: takes over the stale lock, removes leftovers, finishes.
  const again = await runCli([...ARGS, '--out', lastOut]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(await checkComplete(lastOut, ref), [], 'no temporary file or lock left after a finished run');
  assert.deepEqual(readdirSync(lastOut).sort(), readdirSync(ref).sort());
});
