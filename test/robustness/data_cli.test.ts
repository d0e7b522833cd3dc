/**
 * Data, projection and CLI-edge cases of issue #20 (Medium and Low), each as a user meets it:
 * t-SNE and PCA of wide data (10 rows x 70,000 columns), a malformed DNNKIT_WASM_THREADS, system
 * errors that named no file, `--out /proc/x` (hung), CSVs too small for the 5-NN score, non-decimal
 * numbers and invalid UTF-8 in a CSV, a carriage return in an SST-2 file, and tfjs's "install our
 * node backend" banner. Every test here failed before its fix (see the commit that added it).
 *
 * Functions added by the fixes are imported inside their tests, so that on the old code each
 * test fails on its own instead of the whole file failing to load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, runCli, tempDir } from '../helpers.js';
import { parseSst2Tsv } from '../../src/sst2/data.js';
import { assertCleanError } from './fixtures.js';

/** A labelled CSV: `rows` rows of `cols` small integers, two classes far apart. */
function wideCsv(file: string, rows: number, cols: number): void {
  const header = ['label', ...Array.from({ length: cols }, (_, j) => `f${j}`)].join(',');
  const lines = Array.from({ length: rows }, (_, i) => {
    const cls = i % 2;
    return [cls ? 'b' : 'a', ...Array.from({ length: cols }, (_, j) => String(cls * 3 + ((i * 7 + j * 13) % 3)))].join(',');
  });
  writeFileSync(file, [header, ...lines].join('\n') + '\n');
}

test('t-SNE and PCA of wide data (10 rows x 70,000 columns): reduced through the Gram matrix, no columns x columns matrix', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'wide.csv');
  wideCsv(file, 10, 70_000);
  const out = path.join(dir, 'out');
  // 70,000^2 doubles is more than a typed array can hold: the old t-SNE died with
  // "Invalid typed array length" after writing the PCA files.
  const res = await runCli(['project', file, '--perplexity', '3', '--iterations', '250', '--out', out, '--json'], { timeoutMs: 120_000 });
  assert.equal(res.code, 0, res.stderr);
  for (const f of ['embed-pca.csv', 'embed-tsne.csv', 'pca-explained-variance.csv', 'projection-summary.csv', 'run.json']) {
    assert.ok(existsSync(path.join(out, f)), `${f} written`);
  }
  const summary = JSON.parse(res.stdout.trim().split('\n').pop()!) as { inputKnnAccuracy: number; results: { method: string; knnAccuracy: number }[] };
  assert.equal(summary.inputKnnAccuracy, 1);
  assert.equal(summary.results[0].knnAccuracy, 1, 'PCA keeps the two classes apart');
  // t-SNE saw the first 9 principal components (all of them: 10 centred rows span 9 dimensions).
  assert.match(readFileSync(path.join(out, 'embed-tsne.svg'), 'utf8'), /t-SNE of 10 points, 70000 dimensions \(first 9 principal components\)/);
  // PCA explained variance: one ratio per row (the Gram path), summing to 1.
  const ratios = readFileSync(path.join(out, 'pca-explained-variance.csv'), 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[1]));
  assert.equal(ratios.length, 10);
  assert.ok(Math.abs(ratios.reduce((a, b) => a + b, 0) - 1) < 1e-6);
});

test('the Gram-matrix PCA keeps every pairwise distance of wide data with n - 1 components', async () => {
  const { gramPca } = await import('../../src/project/pca.js');
  const n = 7;
  const d = 400;
  const points = Array.from({ length: n }, (_, i) => Array.from({ length: d }, (_, j) => Math.sin(i * 1.3 + j * 0.7) * (1 + (j % 5)) + i));
  const { scores, variances } = gramPca(points, n - 1);
  assert.equal(variances.length, n);
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      let high = 0;
      for (let j = 0; j < d; j++) high += (points[a][j] - points[b][j]) ** 2;
      let low = 0;
      for (let c = 0; c < n - 1; c++) low += (scores[a * (n - 1) + c] - scores[b * (n - 1) + c]) ** 2;
      assert.ok(Math.abs(Math.sqrt(high) - Math.sqrt(low)) < 1e-8 * Math.sqrt(high), `distance ${a}-${b}: ${Math.sqrt(high)} vs ${Math.sqrt(low)}`);
    }
  }
});

for (const value of ['abc', '0', '-1', '2.5']) {
  test(`DNNKIT_WASM_THREADS=${value} is a usage error, not a silent fall-back to the cpu backend`, async () => {
    const res = await runCli(['info'], { env: { DNNKIT_WASM_THREADS: value } });
    assertCleanError(res, 2, new RegExp(`DNNKIT_WASM_THREADS='${value.replace('.', '\\.')}' is not a thread count; set it to a whole number from 1 to 8`));
  });
}

test('a system error names the file and what to do (DNNKIT_HOME under a file: ENOTDIR on mkdir)', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'a-file');
  writeFileSync(file, 'not a folder\n');
  const home = path.join(file, 'home');
  const res = await runCli(['models', 'pull', 'resnet18'], { env: { DNNKIT_HOME: home, DNNKIT_MODEL_URL_BASE: 'http://127.0.0.1:9' } });
  assertCleanError(res, 1, /^dnnkit: error: cannot create the folder .*a-file\/home\S*: a part of the path is a file, not a folder \(ENOTDIR\); check the path; it is inside dnnkit's home .*: set DNNKIT_HOME/);
  assert.doesNotMatch(res.stderr, /--debug/, 'a system error is explained, not a bug to debug');
});

test('an errno error without a path (ENOSPC on write) is given the file by the writer and printed with advice', async () => {
  const { withPath } = await import('../../src/core/errors.js');
  const { reportError } = await import('../../src/core/command.js');
  const err = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  assert.equal(withPath(err, '/data/out/embed-pca.csv'), err);
  const written: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => { written.push(String(s)); return true; }) as typeof process.stderr.write;
  try {
    reportError(err, false);
  } finally {
    process.stderr.write = original;
  }
  const text = written.join('').replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex
  assert.equal(text.trim().split('\n').length, 1, text);
  assert.match(text, /^dnnkit: error: cannot write \/data\/out\/embed-pca\.csv: no space left on the device \(ENOSPC\); free some disk space/);
  // A path Node already gave is kept.
  const named = Object.assign(new Error('EACCES'), { code: 'EACCES', syscall: 'open', path: '/x/y' });
  assert.equal(withPath(named, '/other').path, '/x/y');
});

test('--out /proc/x and DNNKIT_HOME=/proc/x fail at once with one line (Node\'s recursive mkdir looped forever on procfs)', async (t) => {
  if (statfsSync('/proc').type !== 0x9fa0) return t.skip('no procfs at /proc');
  const dir = tempDir(t);
  const file = path.join(dir, 'small.csv');
  writeFileSync(file, 'a,b,label\n' + Array.from({ length: 12 }, (_, i) => `${i},${i % 4},${i % 2}`).join('\n') + '\n');
  const t0 = Date.now();
  const res = await runCli(['project', file, '--method', 'pca', '--out', '/proc/dnnkit-test-x'], { timeoutMs: 30_000 });
  assertCleanError(res, 2, /--out \/proc\/dnnkit-test-x is on a kernel file system \(proc at \/proc\).*choose a folder on a disk/);
  const pull = await runCli(['models', 'pull', 'resnet18'], { env: { DNNKIT_HOME: '/proc/dnnkit-test-home' }, timeoutMs: 30_000 });
  assertCleanError(pull, 2, /DNNKIT_HOME \/proc\/dnnkit-test-home is on a kernel file system/);
  assert.ok(Date.now() - t0 < 25_000, 'fails fast');
});

test('a 4- or 5-row labelled CSV projects without the 5-NN score (it needs 6 rows), saying so', async (t) => {
  const dir = tempDir(t);
  for (const rows of [4, 5]) {
    const file = path.join(dir, `rows${rows}.csv`);
    writeFileSync(file, 'x,y,z,label\n' + Array.from({ length: rows }, (_, i) => `${i},${(i * 3) % 5},${i % 2},${i % 2 ? 'b' : 'a'}`).join('\n') + '\n');
    const out = path.join(dir, `out${rows}`);
    const res = await runCli(['project', file, '--perplexity', '1', '--iterations', '250', '--out', out, '--json']);
    assert.equal(res.code, 0, res.stderr);
    // A warning, so it shows with --json too.
    assert.match(res.stderr, new RegExp(`warning: .*no 5-NN accuracy: it needs at least 6 points, there are ${rows}`));
    const summary = JSON.parse(res.stdout.trim().split('\n').pop()!) as { inputKnnAccuracy: unknown; results: { method: string; knnAccuracy: unknown; trustworthiness: number }[] };
    assert.equal(summary.inputKnnAccuracy, null);
    assert.deepEqual(summary.results.map((r) => [r.method, r.knnAccuracy]), [['pca', null], ['tsne', null]]);
    assert.ok(existsSync(path.join(out, 'embed-tsne.csv')));
  }
});

/** CSV text with a header `a,b,label` and 8 rows (enough for the 5-NN score); row 3 (line 4) holds `cell` in column b. */
const csvWith = (cell: string) => 'a,b,label\n' + Array.from({ length: 8 }, (_, i) => `${i},${i === 2 ? cell : (i * 5) % 7},${i % 2 ? 'p' : 'q'}`).join('\n') + '\n';

test('CSV cells 0x1A, 0b11, 0o17 are not numbers; decimals with exponents are', async (t) => {
  const dir = tempDir(t);
  for (const cell of ['0x1A', '0b11', '0o17']) {
    const file = path.join(dir, `${cell}.csv`);
    writeFileSync(file, csvWith(cell));
    const out = path.join(dir, `out-${cell}`);
    const res = await runCli(['project', file, '--method', 'pca', '--out', out]);
    assertCleanError(res, 1, new RegExp(`${cell}\\.csv:4: column 'b' holds '${cell}', not a finite number; feature cells must be decimal numbers`));
    assert.equal(existsSync(out), false, 'nothing written');
  }
  const ok = await runCli(['project', ((f) => (writeFileSync(f, csvWith('-2.5E-1')), f))(path.join(dir, 'exp.csv')), '--method', 'pca', '--out', path.join(dir, 'out-exp')]);
  assert.equal(ok.code, 0, ok.stderr);
  const { parseDecimal } = await import('../../src/core/csv.js');
  for (const bad of ['0x1A', '0b11', '0o17', '', ' ', '1_000', 'Infinity', '1e', '.', '+-1', '1,5']) assert.ok(Number.isNaN(parseDecimal(bad)), `'${bad}'`);
  for (const [cell, v] of [['12', 12], ['-0.5', -0.5], ['.5', 0.5], ['5.', 5], ['1e-3', 1e-3], ['+2E+4', 2e4], [' 7 ', 7], ['007', 7]] as const) assert.equal(parseDecimal(cell), v, `'${cell}'`);
});

test('a CSV label that is not valid UTF-8 is refused with the file and line (it became U+FFFD)', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'latin1.csv');
  // 'caf\xe9' is Latin-1 for café: a lone 0xE9 byte is not UTF-8.
  const [head, tail] = csvWith('1').split('q\n3,');
  writeFileSync(file, Buffer.concat([Buffer.from(head + 'caf'), Buffer.from([0xe9]), Buffer.from('\n3,' + tail)]));
  const out = path.join(dir, 'out');
  const res = await runCli(['project', file, '--method', 'pca', '--out', out]);
  assertCleanError(res, 1, /latin1\.csv:4: not valid UTF-8 text; save the file as UTF-8/);
  assert.equal(existsSync(out), false, 'nothing written');
  // A UTF-8 byte-order mark is not part of the first column's name.
  const bom = path.join(dir, 'bom.csv');
  writeFileSync(bom, '\ufeff' + csvWith('1'));
  const ok = await runCli(['project', bom, '--method', 'pca', '--out', path.join(dir, 'out-bom')]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /labels from label/);
});

test('SST-2: a carriage return does not shift error line numbers; CRLF files read as LF files', () => {
  const lf = 'good film\t1\nbad film\t0\nfine\t1\n';
  const crlf = lf.replace(/\n/g, '\r\n');
  assert.deepEqual(parseSst2Tsv(crlf, 'f.tsv', 'train'), parseSst2Tsv(lf, 'f.tsv', 'train'));
  const cases: [string, RegExp][] = [
    ['good film\t1\r\nbad film\t0\r\nmeh\t2\r\n', /f\.tsv:3: label '2'/],
    ['good\rfilm\t1\nbad film\t0\nmeh\t2\n', /f\.tsv:3: label '2'/],
    ['good film\t1\nbad film\t0\r\nmeh\t2\n', /f\.tsv:3: label '2'/],
    ['a b\t1\r\nc d\t0\r\ne\r f\t1\r\nmeh\t2\r\n', /f\.tsv:4: label '2'/],
    ['a b\t1\n\nc\rd\t0\nno tab here\n', /f\.tsv:4: expected 2 tab-separated cells/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseSst2Tsv(text, 'f.tsv', 'train'), re, JSON.stringify(text));
  // The carriage return inside a sentence is white space between tokens.
  assert.deepEqual(parseSst2Tsv('good\rfilm\t1\n', 'f.tsv', 'train').examples[0].tokens, ['good', 'film']);
});

test('no "install our node backend" banner when a tensor exists before the backend is chosen (sst2 --resume decodes its checkpoint first)', () => {
  // What sst2 --resume does: the checkpoint's tensors are made (on tfjs's default cpu backend)
  // before initBackend; the cpu backend printed its banner on that first write.
  const script = `
    import * as tf from '@tensorflow/tfjs';
    const { initBackend } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'core', 'backend.js'))});
    const early = tf.tensor1d([1, 2, 3]);
    const info = await initBackend('wasm');
    console.log(info.name, early.sum().dataSync()[0]);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DNNKIT_NATIVE: '0' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'wasm 6');
  assert.doesNotMatch(r.stderr, /install our node backend|looks like you are running TensorFlow\.js in Node/, r.stderr);
});
