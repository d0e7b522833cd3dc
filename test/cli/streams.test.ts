/**
 * Streams (issue 14, item 1): results on stdout, progress and logs on stderr with or without
 * --json, --quiet, NO_COLOR / FORCE_COLOR, a closed stdout ends the process quietly, and on a
 * terminal the progress bar leaves every line intact and no stale bar (run under a
 * pseudo-terminal with `script`, and the bytes replayed through a small terminal model).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { colorLevel } from '../../src/core/log.js';
import { BIN, ROOT, runCli, tempDir } from '../helpers.js';

const HAS_SCRIPT = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

/** Runs `command` under a pseudo-terminal; returns everything the terminal received. */
function underTty(command: string, env: NodeJS.ProcessEnv = {}): { code: number | null; bytes: string } {
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, TERM: 'xterm', ...env }, timeout: 120_000 });
  return { code: r.status, bytes: r.stdout };
}

/**
 * The lines a terminal shows after receiving `bytes`: CR, LF, erase line (ESC[2K, ESC[K), cursor
 * to column (ESC[nG), save/restore cursor (ESC 7 / ESC 8); colours and modes are ignored.
 */
export function screen(bytes: string): string[] {
  const rows: string[][] = [[]];
  let row = 0;
  let col = 0;
  let saved = { row: 0, col: 0 };
  for (let i = 0; i < bytes.length; i++) {
    const ch = bytes[i];
    if (ch === '\x1b') {
      if (bytes[i + 1] === '7') { saved = { row, col }; i++; continue; }
      if (bytes[i + 1] === '8') { ({ row, col } = saved); i++; continue; }
      const m = /^\[([?\d;]*)([A-Za-z])/.exec(bytes.slice(i + 1, i + 16));
      if (!m) continue;
      i += m[0].length;
      const n = Number(m[1] || '0');
      if (m[2] === 'K') rows[row].splice(m[1] === '2' ? 0 : col, Infinity, ...(m[1] === '2' ? Array(col).fill(' ') : []));
      else if (m[2] === 'G') col = Math.max(0, n - 1);
      continue;
    }
    if (ch === '\r') { col = 0; continue; }
    if (ch === '\n') { row++; rows[row] ??= []; col = 0; continue; }
    rows[row][col++] = ch;
  }
  return rows.map((r) => Array.from(r, (c) => c ?? ' ').join('').trimEnd()).filter((l) => l !== '');
}

test('the terminal model: a restored cursor overwrites (the old train-mnist ending)', () => {
  assert.deepEqual(screen('a\x1b7bar 50%\r\x1b[2Kepoch 1\nbar\x1b8\x1b[1G\x1b[2Kresult\r\n'), ['result', 'bar']);
  assert.deepEqual(screen('bar\r\x1b[2Kline\nbar 100%\x1b[1G\x1b[2K'), ['line']);
});

test('a progress bar on a terminal: every line intact, no stale bar, cursor shown again', { skip: !HAS_SCRIPT && 'no `script` (util-linux) here' }, (t) => {
  const dir = tempDir(t);
  const js = path.join(dir, 'bar.mjs');
  const core = (f: string) => JSON.stringify(new URL(`../../src/core/${f}`, import.meta.url).href);
  writeFileSync(js, `
    const { createProgress } = await import(${core('progress.js')});
    const { createLogger, setOutputMode } = await import(${core('log.js')});
    setOutputMode({ json: false, quiet: false });
    const log = createLogger(false);
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const bar = createProgress({ total: 20, label: 'train' });
    for (let epoch = 1; epoch <= 2; epoch++) {
      for (let i = 1; i <= 10; i++) { bar.update((epoch - 1) * 10 + i, { loss: 1 / i }); await sleep(25); }
      bar.log('epoch ' + epoch + ': loss 0.' + epoch);
      log.info('a log line after epoch ' + epoch);
    }
    bar.stop();
    log.result('test accuracy 99.00%');
  `);
  const r = underTty(`${JSON.stringify(process.execPath)} ${JSON.stringify(js)}`);
  assert.equal(r.code, 0, r.bytes);
  assert.match(r.bytes, /train.*\d+% \| \d+\/20/, 'a bar was drawn');
  assert.deepEqual(screen(r.bytes), ['epoch 1: loss 0.1', 'a log line after epoch 1', 'epoch 2: loss 0.2', 'a log line after epoch 2', 'test accuracy 99.00%']);
  assert.ok(r.bytes.lastIndexOf('\x1b[?25h') > r.bytes.lastIndexOf('\x1b[?25l'), 'the cursor is shown again');
});

test('results on stdout, logs on stderr; --json: one JSON document on stdout; --quiet', async (t) => {
  const people = await runCli(['info']);
  assert.equal(people.code, 0, people.stderr);
  assert.match(people.stdout, /^dnnkit +\d+\.\d+\.\d+\nbackend /);
  assert.equal(people.stderr, '');
  const json = await runCli(['info', '--json']);
  assert.equal(json.code, 0);
  assert.equal(typeof JSON.parse(json.stdout).name, 'string', 'stdout is exactly one JSON document');
  const list = await runCli(['models', 'list'], { env: { DNNKIT_HOME: tempDir(t) } });
  assert.match(list.stdout, /^model cache: /);
  assert.equal(list.stderr, '');
});

test('NO_COLOR and FORCE_COLOR, decided per stream', { skip: !HAS_SCRIPT && 'no `script` (util-linux) here' }, async () => {
  assert.equal(colorLevel({ isTTY: true }, { TERM: 'xterm' }), 1);
  assert.equal(colorLevel({ isTTY: true }, { TERM: 'xterm', NO_COLOR: '1' }), 0);
  assert.equal(colorLevel({ isTTY: true }, { TERM: 'xterm', NO_COLOR: '' }), 1, 'an empty NO_COLOR does not count (no-color.org)');
  assert.equal(colorLevel({ isTTY: false }, { FORCE_COLOR: '1' }), 1);
  assert.equal(colorLevel({ isTTY: true }, { FORCE_COLOR: '0' }), 0);
  assert.equal(colorLevel({ isTTY: true }, { TERM: 'dumb' }), 0);
  const red = /\x1b\[31m/;
  // A usage error on a terminal is red, without colour under NO_COLOR.
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} info --seed x`;
  assert.match(underTty(cmd, { FORCE_COLOR: undefined }).bytes, red);
  assert.doesNotMatch(underTty(cmd, { NO_COLOR: '1', FORCE_COLOR: undefined }).bytes, red);
  // Piped: no colour, unless FORCE_COLOR.
  assert.doesNotMatch((await runCli(['info', '--seed', 'x'], { env: { FORCE_COLOR: undefined } })).stderr, red);
  assert.match((await runCli(['info', '--seed', 'x'], { env: { FORCE_COLOR: '1' } })).stderr, red);
});

test('a closed stdout (dnnkit help gradcam | head) ends the process quietly: exit 141, no stack trace', async () => {
  const child = spawn(process.execPath, [BIN, 'help', 'gradcam'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy(); // the reader is gone before the first write
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(stderr, '');
  assert.equal(code, 141);
});
