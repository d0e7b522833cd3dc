/**
 * Bad data and model files: PyTorch checkpoints (models convert), CSV (project), MNIST IDX
 * (train-mnist, eval-mnist, explain-eval --data-dir), SST-2 TSV (sst2) and saved models (sst2
 * predict). Each must fail with exit 1 and one line naming the file (and, where it helps, the row or
 * key), no stack trace, nothing in --out and nothing in the model cache.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, symlinkSync, readFileSync, openSync, readSync, closeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runCli, listFiles, requireOracle, ROOT } from '../helpers.js';
import { defaultMnistDir } from '../../src/mnist/data.js';
import { torchFixture } from '../models/torch_fixtures.js';
import { initBackend } from '../../src/core/backend.js';
import { assertCleanError, makeTinyMnistModel } from './fixtures.js';

let work: string;
let home: string;
let n = 0;

before(() => {
  work = mkdtempSync(path.join(tmpdir(), 'dnnkit-robust-files-'));
  home = path.join(work, 'home');
});
after(() => rmSync(work, { recursive: true, force: true }));

const f = (name: string) => path.join(work, name);

/** Runs the CLI with a fresh --out (unless `noOut`) and an empty cache; expects a clean failure. */
async function expectFailure(args: string[], code: 1 | 2, pattern: RegExp, opts: { noOut?: boolean } = {}): Promise<void> {
  const out = f(`out${n++}`);
  const res = await runCli(opts.noOut ? args : [...args, '--out', out], { env: { DNNKIT_HOME: home, DNNKIT_MODEL_URL_BASE: 'http://127.0.0.1:9' } });
  assertCleanError(res, code, pattern);
  assert.deepEqual(listFiles(out), [], `${args.join(' ')}: nothing in --out`);
  assert.deepEqual(listFiles(home), [], `${args.join(' ')}: nothing in the model cache`);
}

test('models convert: missing, folder, empty, text, truncated, hand-made and other-architecture checkpoints', async (t) => {
  writeFileSync(f('notes.pth'), 'not a checkpoint\n');
  writeFileSync(f('empty.pth'), '');
  mkdirSync(f('folder.pth'));
  const conv = (file: string, arch = 'resnet18') => ['models', 'convert', file, '--arch', arch];
  await expectFailure(conv(f('nope.pth')), 1, /checkpoint not found: .*nope\.pth/);
  await expectFailure(conv(f('folder.pth')), 1, /checkpoint is not a file: .*folder\.pth/);
  await expectFailure(conv(f('empty.pth')), 1, /empty\.pth is not a PyTorch checkpoint \(0 bytes\)/);
  await expectFailure(conv(f('notes.pth')), 1, /notes\.pth is not a PyTorch checkpoint \(neither a zip nor a legacy torch\.save file\)/);
  // Without --out the conversion goes to the cache: still nothing may land there.
  await expectFailure(conv(f('notes.pth')), 1, /notes\.pth is not a PyTorch checkpoint/, { noOut: true });

  const py = requireOracle(t, ['torch', 'torchvision']);
  if (!py) return;
  // A tiny hand-made state_dict with ResNet-18 key names but the wrong shapes.
  const r = spawnSync(py, ['-c', `import torch\ntorch.save({'conv1.weight': torch.zeros(2, 3, 3, 3), 'fc.weight': torch.zeros(10, 4)}, ${JSON.stringify(f('tiny.pth'))})`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  await expectFailure(conv(f('tiny.pth')), 1, /tiny\.pth is not a resnet18 checkpoint \(missing keys: .*wrong shapes: conv1\.weight is \[2,3,3,3\], expected \[64,3,7,7\]/);
  // A real (random-init) torchvision ResNet-18 checkpoint given as VGG-16, and truncated.
  const fx = await torchFixture(py, 'resnet18');
  await expectFailure(conv(fx.checkpoint, 'vgg16'), 1, /resnet18\.pth is not a vgg16 checkpoint \(missing keys: features\.0\.weight.*it looks like resnet18: use --arch resnet18/);
  await expectFailure(conv(fx.checkpoint, 'vgg16'), 1, /is not a vgg16 checkpoint/, { noOut: true });
  const half = Buffer.alloc(4_000_000);
  const fd = openSync(fx.checkpoint, 'r');
  readSync(fd, half, 0, half.length, 0);
  closeSync(fd);
  writeFileSync(f('truncated.pth'), half);
  await expectFailure(conv(f('truncated.pth')), 1, /truncated\.pth is not a readable zip checkpoint .*is it truncated\? Download it again/);
  await expectFailure(conv(f('truncated.pth')), 1, /truncated\.pth is not a readable zip checkpoint/, { noOut: true });
});

test('project: ragged rows, NaN, text cells, blank and infinite cells, no rows, missing label column, empty, folder, missing', async () => {
  const csv = (name: string, text: string) => {
    writeFileSync(f(name), text);
    return f(name);
  };
  const cases: [string, string, string[], RegExp][] = [
    ['ragged.csv', 'a,b,label\n1,2,x\n3,4\n5,6,y\n', [], /ragged\.csv:3: 2 cells but the header has 3/],
    ['nan.csv', 'a,b,label\n1,NaN,x\n3,4,y\n', [], /nan\.csv:2: column 'b' holds 'NaN', not a finite number/],
    // A text cell in a column whose first cell is a number (a column that starts with text is a text column, ignored with a note).
    ['text.csv', 'a,b,label\n1,2,x\n3,hello,y\n', [], /text\.csv:3: column 'b' holds 'hello', not a finite number/],
    ['blank.csv', 'a,b,label\n1,,x\n3,4,y\n', [], /blank\.csv:2: column 'b' holds '', not a finite number/],
    ['inf.csv', 'a,b,label\n1,2,x\n3,1e309,y\n', [], /inf\.csv:3: column 'b' holds '1e309', not a finite number/],
    ['norows.csv', 'a,b,label\n', [], /norows\.csv has a header but no data rows/],
    ['nolabel.csv', 'a,b\n1,2\n3,4\n5,6\n', ['--label-column', 'label'], /nolabel\.csv: no column 'label' for --label-column; the columns are a, b/],
    ['empty.csv', '', [], /CSV file is empty: .*empty\.csv/],
  ];
  for (const [name, text, extra, pattern] of cases) await expectFailure(['project', csv(name, text), '--method', 'pca', ...extra], 1, pattern);
  mkdirSync(f('folder.csv'));
  await expectFailure(['project', f('folder.csv')], 1, /CSV file is a directory, expected a file: .*folder\.csv/);
  await expectFailure(['project', f('missing.csv')], 1, /CSV file not found: .*missing\.csv/);
});

test('project: too few rows for t-SNE names the row count and a valid way out', async () => {
  writeFileSync(f('three.csv'), 'a,b\n1,2\n3,4\n5,6\n');
  await expectFailure(['project', f('three.csv'), '--method', 'tsne'], 1, /3 points are too few for t-SNE/);
  const res = await runCli(['project', f('three.csv'), '--method', 'tsne', '--out', f(`out${n++}`)]);
  assert.doesNotMatch(res.stderr, /below 1\.0/, 'must not suggest a --perplexity the option parser rejects');
  assert.match(res.stderr, /add rows \(t-SNE needs at least 4\) or use --method pca/);
});

/** A --data-dir with the bundled MNIST files linked in, and `broken` written over some of them. */
function mnistDir(name: string, broken: Record<string, Buffer>): string {
  const dir = f(name);
  mkdirSync(dir);
  const src = defaultMnistDir();
  for (const file of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
    if (!(file in broken) && !(`${file}.gz` in broken)) symlinkSync(path.join(src, file), path.join(dir, file));
  }
  for (const [file, data] of Object.entries(broken)) writeFileSync(path.join(dir, file), data);
  return dir;
}

function idxHeader(magic: number, dims: number[], body: number): Buffer {
  const b = Buffer.alloc(4 + 4 * dims.length + body);
  b.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
}

test('train-mnist / eval-mnist / explain-eval --data-dir: IDX files with a wrong magic, count, length, label or gzip', async () => {
  await initBackend();
  const model = await makeTinyMnistModel(f('mnist-model')); // a valid MNIST-shaped model: only the data is wrong
  const labelsWrongMagic = mnistDir('idx-magic', { 'train-labels-idx1-ubyte': idxHeader(2051, [60000], 60000) });
  await expectFailure(['train-mnist', '--data-dir', labelsWrongMagic, '--limit', '100', '--epochs', '1'], 1,
    /idx-magic\/train-labels-idx1-ubyte: wrong magic number 2051 \(expected 2049 for IDX labels\)/);
  const countMismatch = mnistDir('idx-count', { 'train-labels-idx1-ubyte': idxHeader(2049, [59999], 59999) });
  await expectFailure(['train-mnist', '--data-dir', countMismatch, '--limit', '100', '--epochs', '1'], 1,
    /train-images-idx3-ubyte has 60000 images but .*train-labels-idx1-ubyte has 59999 labels/);
  const longer = mnistDir('idx-long', { 't10k-labels-idx1-ubyte': idxHeader(2049, [10000], 10001) });
  await expectFailure(['train-mnist', '--data-dir', longer, '--limit', '100', '--epochs', '1'], 1, /idx-long\/t10k-labels-idx1-ubyte: .*10009/);
  const truncated = mnistDir('idx-trunc', { 't10k-images-idx3-ubyte': idxHeader(2051, [10000, 28, 28], 5000) });
  await expectFailure(['eval-mnist', '--data-dir', truncated, '--model', model], 1,
    /idx-trunc\/t10k-images-idx3-ubyte: 5016 bytes but the header \(10000 images of 28x28\) needs 7840016; the file is truncated/);
  const badLabel = mnistDir('idx-label', { 't10k-labels-idx1-ubyte': Buffer.concat([idxHeader(2049, [10000], 0), Buffer.alloc(10000, 11)]) });
  await expectFailure(['explain-eval', '--data-dir', badLabel, '--model', model, '--images', '2'], 1, /idx-label\/t10k-labels-idx1-ubyte: label 11 at index 0 is not a digit 0-9/);
  const badGzip = mnistDir('idx-gz', { 'train-images-idx3-ubyte.gz': Buffer.from('\x1f\x8b\x08\x00garbage-not-gzip', 'latin1') });
  await expectFailure(['train-mnist', '--data-dir', badGzip, '--limit', '100', '--epochs', '1'], 1, /idx-gz\/train-images-idx3-ubyte\.gz: corrupt gzip data .*download the file again/);
  mkdirSync(f('idx-empty'));
  await expectFailure(['train-mnist', '--data-dir', f('idx-empty')], 1, /idx-empty\/train-images-idx3-ubyte not found .*--data-dir must hold the four MNIST IDX files/);
});

test('sst2 --data-dir: missing split, bad label, empty file, header only; sst2 predict: missing or foreign model', async () => {
  const split = (dir: string, train: string | null) => {
    mkdirSync(f(dir));
    for (const s of ['dev', 'test']) writeFileSync(path.join(f(dir), `${s}.tsv`), readFileSync(path.join(ROOT, 'data', 'sst2', `${s}.tsv`)));
    if (train !== null) writeFileSync(path.join(f(dir), 'train.tsv'), train);
    return f(dir);
  };
  await expectFailure(['sst2', '--data-dir', split('s-missing', null)], 1, /SST-2 train split not found: .*s-missing\/train\.tsv/);
  await expectFailure(['sst2', '--data-dir', split('s-label', 'sentence\tlabel\nhello world\t1\nbad movie\tseven\n')], 1,
    /s-label\/train\.tsv:3: label 'seven' is not 0 or 1/);
  await expectFailure(['sst2', '--data-dir', split('s-empty', '')], 1, /SST-2 train split is empty: .*s-empty\/train\.tsv/);
  await expectFailure(['sst2', '--data-dir', split('s-header', 'sentence\tlabel\n')], 1, /s-header\/train\.tsv has a header but no sentences/);
  await expectFailure(['sst2', 'predict', '--model', f('no-model'), 'a fine film'], 1, /SST-2 model\.json not found: .*no-model\/model\.json/);
  mkdirSync(f('mnist-like'));
  writeFileSync(path.join(f('mnist-like'), 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: {}, weightsManifest: [] }));
  await expectFailure(['sst2', 'predict', '--model', f('mnist-like'), 'a fine film'], 1, /mnist-like\/model\.json is not a dnnkit SST-2 model/);
});
