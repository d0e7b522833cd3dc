import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { runCli, lastJson, tempDir, listFiles, requireOracle } from '../helpers.js';
import { createRng } from '../../src/core/rng.js';
import { pca2d } from '../../src/project/pca.js';
import { methodsOf, PROJECTION_CHOICES, PROJECTION_METHODS } from '../../src/project/index.js';
import { scatterSpec } from '../../src/project/scatter.js';

/** Three well separated Gaussian blobs in 5-D, 40 points each, with an id column. */
function blobs(file: string, n = 120): void {
  const rng = createRng(7);
  const rows = ['id,f0,f1,f2,f3,f4,label'];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    rows.push([`p${i}`, ...Array.from({ length: 5 }, (_, j) => (j === c ? 8 : 0) + rng.normal())].join(',') + `,class${c}`);
  }
  writeFileSync(file, rows.join('\n') + '\n');
}

test('project: PCA and t-SNE of a small CSV, files, summary and --json', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'blobs.csv');
  blobs(file);
  const out = path.join(dir, 'out');
  const res = await runCli(['project', file, '--method', 'both', '--perplexity', '10', '--iterations', '500', '--out', out, '--json']);
  assert.equal(res.code, 0, res.stderr);
  const s = lastJson(res) as { points: number; dimensions: number; labelColumn: string; results: { method: string; trustworthiness: number; knnAccuracy: number; explainedVariance?: number[] }[] };
  assert.equal(s.points, 120);
  assert.equal(s.dimensions, 5); // id and label are not features
  assert.equal(s.labelColumn, 'label');
  assert.deepEqual(s.results.map((r) => r.method), ['pca', 'tsne']);
  for (const r of s.results) {
    assert.ok(r.trustworthiness > 0.9 && r.trustworthiness <= 1, `${r.method} trustworthiness ${r.trustworthiness}`);
    assert.equal(r.knnAccuracy, 1, `${r.method}: separated blobs stay separated`);
  }
  const files = listFiles(out);
  for (const f of ['embed-pca.csv', 'embed-pca.png', 'embed-pca.svg', 'embed-tsne.csv', 'embed-tsne.png', 'embed-tsne.svg',
    'pca-explained-variance.csv', 'projection-summary.csv', 'run.json']) assert.ok(files.includes(f), `${f} missing`);
  const coords = readFileSync(path.join(out, 'embed-tsne.csv'), 'utf8').trim().split('\n');
  assert.equal(coords[0], 'index,label,predicted,x,y');
  assert.equal(coords.length, 121);
  const ev = readFileSync(path.join(out, 'pca-explained-variance.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
  assert.equal(ev.length, 5);
  assert.ok(Math.abs(ev[4][2] - 1) < 1e-6, 'cumulative explained variance ends at 1');
  const summaryCsv = readFileSync(path.join(out, 'projection-summary.csv'), 'utf8').trim().split('\n');
  assert.equal(summaryCsv[0], 'method,points,dimensions,trustworthiness_k,trustworthiness,knn5_accuracy_2d,knn5_accuracy_input,seconds');
  assert.equal(summaryCsv.length, 3);
  const svg = readFileSync(path.join(out, 'embed-tsne.svg'), 'utf8');
  for (const text of ['t-SNE: blobs.csv', 't-SNE 1', 't-SNE 2', 'true label', 'class0']) assert.ok(svg.includes(text), `plot lacks '${text}'`);
  // Deterministic for a seed.
  const out2 = path.join(dir, 'out2');
  const res2 = await runCli(['project', file, '--method', 'tsne', '--perplexity', '10', '--iterations', '500', '--out', out2]);
  assert.equal(res2.code, 0, res2.stderr);
  assert.equal(readFileSync(path.join(out2, 'embed-tsne.csv'), 'utf8'), readFileSync(path.join(out, 'embed-tsne.csv'), 'utf8'));
});

// More points than dimensions (the covariance path, with a shifted mean) and as many or fewer
// (the n x n Gram-matrix path, used for wide data).
for (const [n, d] of [[30, 4], [60, 13], [6, 9], [7, 7], [12, 300]]) test(`PCA explained variance and coordinates match scikit-learn (${n} points, ${d} dimensions)`, (t) => {
  const py = requireOracle(t, ['sklearn', 'numpy']);
  if (!py) return;
  const rng = createRng(3);
  const points = Array.from({ length: n }, () => Array.from({ length: d }, (_, j) => rng.normal() * (j + 1) + 5 - j));
  const res = pca2d(points);
  const script = `import json,sys,numpy as np\nfrom sklearn.decomposition import PCA\nx=np.array(json.load(sys.stdin))\np=PCA().fit(x)\nprint(json.dumps({'ratio':p.explained_variance_ratio_.tolist(),'coords':p.transform(x)[:,:2].tolist()}))`;
  const r = spawnSync(py, ['-c', script], { input: JSON.stringify(points), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const ref = JSON.parse(r.stdout) as { ratio: number[]; coords: number[][] };
  ref.ratio.forEach((v, i) => assert.ok(Math.abs(v - res.explainedVarianceRatio[i]) < 1e-9, `ratio ${i}`));
  // Components are defined up to sign.
  for (const c of [0, 1]) {
    const sign = Math.sign(ref.coords[0][c]) === Math.sign(res.coords[c]) ? 1 : -1;
    ref.coords.forEach((row, i) => assert.ok(Math.abs(row[c] - sign * res.coords[2 * i + c]) < 1e-8, `coord ${i},${c}`));
  }
});

test('the projection registry drives the choices; the scatter spec marks misclassified points', () => {
  assert.deepEqual(PROJECTION_CHOICES, [...PROJECTION_METHODS, 'both']);
  assert.deepEqual(methodsOf('both'), ['pca', 'tsne']);
  const spec = scatterSpec({ coords: [0, 0, 1, 1, 2, 2], labels: ['a', 'b', 'a'], predicted: ['a', 'a', 'a'], title: 'T', xTitle: 'X', yTitle: 'Y' });
  const values = (spec.data as { values: { outcome: string }[] }).values;
  assert.deepEqual(values.map((v) => v.outcome), ['correct', 'misclassified', 'correct']);
  assert.ok((spec.encoding as Record<string, unknown>).shape, 'shape encodes the outcome');
});

/** Each bad input: exit 1, one line naming the problem, nothing written to --out. */
test('project: bad CSVs fail with one line and no output', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'out');
  const cases: [string, string, string[], RegExp][] = [
    ['ragged.csv', 'a,b,label\n1,2,x\n3,y\n', [], /ragged\.csv:3: 2 cells but the header has 3/],
    ['nan.csv', 'a,b,label\n1,2,x\n3,NaN,y\n', [], /nan\.csv:3: column 'b' holds 'NaN', not a finite number/],
    ['text.csv', 'a,b,label\n1,2,x\n3,abc,y\n', [], /text\.csv:3: column 'b' holds 'abc'/],
    ['empty-cell.csv', 'a,b,label\n1,,x\n', [], /empty-cell\.csv:2: column 'b' holds ''/],
    ['nolabel.csv', 'a,b\n1,2\n3,4\n5,6\n', ['--label-column', 'class'], /no column 'class' for --label-column; the columns are a, b/],
    ['few.csv', 'a,b\n' + Array.from({ length: 20 }, (_, i) => `${i},${i % 3}`).join('\n'), ['--method', 'tsne', '--perplexity', '30'],
      /20 points are too few for t-SNE with perplexity 30 \(needs more than 3 x perplexity = 90\)/],
    ['header-only.csv', 'a,b,label\n', [], /has a header but no data rows/],
  ];
  for (const [name, text, extra, re] of cases) {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    const res = await runCli(['project', file, '--out', out, ...extra]);
    assert.equal(res.code, 1, `${name}: ${res.stderr}`);
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${name}: ${res.stderr}`);
    assert.match(lines[0], re, name);
    assert.ok(!existsSync(out), `${name}: --out was created`);
  }
  for (const method of ['isomap', 'pca,isomap', ',']) {
    const bad = await runCli(['project', path.join(dir, 'x.csv'), '--method', method, '--out', out]);
    assert.equal(bad.code, 2, `--method ${method}`);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.ok(!existsSync(out));
  }
  const both = await runCli(['project', path.join(dir, 'x.csv'), '--columns', 'a', '--ignore-columns', 'b', '--out', out]);
  assert.equal(both.code, 2, both.stderr);
  assert.match(both.stderr, /--columns and --ignore-columns exclude each other/);
  for (const [extra, re] of [[['--neighbors', '1'], /--neighbors must be between 2 and 1000, got 1/], [['--min-dist', '-0.5'], /--min-dist must be in \[0, 1\], got -0.5/]] as const) {
    const res = await runCli(['project', path.join(dir, 'x.csv'), '--method', 'umap', ...extra, '--out', out]);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, re);
  }
});

/** A CSV as people have them: a sentence column, a file column, label names, a predicted column. */
function mixed(file: string, n = 90): void {
  const rng = createRng(9);
  const names = ['negative', 'neutral', 'positive'];
  const rows = ['sentence,f0,f1,f2,source,label,predicted'];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    const f = Array.from({ length: 3 }, (_, j) => (j === c ? 6 : 0) + rng.normal());
    rows.push([`"words, words ${i}"`, ...f, `file${i}.txt`, names[c], names[i % 10 === 0 ? (c + 1) % 3 : c]].join(','));
  }
  writeFileSync(file, rows.join('\n') + '\n');
}

test('project: text columns are ignored with one line naming them; --columns and --ignore-columns choose features; legends show label names', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'mixed.csv');
  mixed(file);
  const out = path.join(dir, 'out');
  const res = await runCli(['project', file, '--method', 'pca,umap', '--neighbors', '10', '--out', out, '--json']);
  assert.equal(res.code, 0, res.stderr);
  const notes = res.stderr.split('\n').filter((l) => /ignoring/.test(l));
  assert.equal(notes.length, 1, res.stderr);
  assert.match(notes[0], /ignoring 2 non-numeric columns: sentence, source/);
  const s = lastJson(res) as { dimensions: number; ignoredColumns: string[]; results: { method: string; knnAccuracy: number }[] };
  assert.equal(s.dimensions, 3);
  assert.deepEqual(s.ignoredColumns, ['sentence', 'source']);
  assert.deepEqual(s.results.map((r) => r.method), ['pca', 'umap']);
  for (const m of ['pca', 'umap']) {
    const svg = readFileSync(path.join(out, `embed-${m}.svg`), 'utf8');
    for (const text of ['negative', 'neutral', 'positive', 'misclassified']) assert.ok(svg.includes(text), `${m} plot lacks '${text}'`);
  }
  const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { settings: { methods: Record<string, Record<string, number>>; columns: string[] } };
  assert.deepEqual(run.settings.methods.umap, { neighbors: 10, minDist: 0.1 });
  assert.deepEqual(run.settings.columns, ['f0', 'f1', 'f2']);
  // --columns: exactly these; --ignore-columns: all but these (and the text columns, silently named)
  const only = await runCli(['project', file, '--method', 'pca', '--columns', 'f0,f2', '--out', path.join(dir, 'o2'), '--json']);
  assert.equal(only.code, 0, only.stderr);
  assert.equal((lastJson(only) as { dimensions: number }).dimensions, 2);
  assert.doesNotMatch(only.stderr, /ignoring/);
  const ignore = await runCli(['project', file, '--method', 'pca', '--ignore-columns', 'f1,sentence', '--out', path.join(dir, 'o3'), '--json']);
  assert.equal(ignore.code, 0, ignore.stderr);
  assert.equal((lastJson(ignore) as { dimensions: number }).dimensions, 2);
  assert.match(ignore.stderr, /ignoring 1 non-numeric column: source/);
  const unused = await runCli(['project', file, '--method', 'pca', '--neighbors', '5', '--out', path.join(dir, 'o4')]);
  assert.equal(unused.code, 0, unused.stderr);
  assert.match(unused.stderr, /warning: --neighbors applies to umap, which --method does not include; it is ignored/);
  for (const [args, re] of [[['--columns', 'f0,nope'], /no column 'nope' for --columns/], [['--columns', 'f0,label'], /'label' is the label column/],
    [['--columns', 'f0,sentence'], /column 'sentence' holds 'words, words 0', not a finite number/], [['--ignore-columns', 'nope'], /no column 'nope' for --ignore-columns/]] as const) {
    const bad = await runCli(['project', file, '--method', 'pca', ...args, '--out', path.join(dir, 'bad')]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, re);
    assert.ok(!existsSync(path.join(dir, 'bad')));
  }
});

test('scatter plots: PCA draws both axes to one scale; t-SNE and UMAP hide their axis values', () => {
  // x spans 100 units, y 1 unit: with one scale, y's domain is as many units per pixel as x's
  const coords = [0, 0, 100, 1, 50, 0.5];
  const spec = scatterSpec({ coords, title: 'T', xTitle: 'X', yTitle: 'Y', axes: 'equal' });
  const enc = spec.encoding as Record<string, { scale: { domain: [number, number] }; axis?: unknown }>;
  const [x0, x1] = enc.x.scale.domain;
  const [y0, y1] = enc.y.scale.domain;
  assert.ok(Math.abs((x1 - x0) / (spec.width as number) - (y1 - y0) / (spec.height as number)) < 1e-9, 'same units per pixel');
  assert.ok(x0 <= 0 && x1 >= 100 && y0 <= 0 && y1 >= 1, 'every point inside');
  assert.ok(Math.abs((y0 + y1) / 2 - 0.5) < 1e-9, 'centred on the data');
  const hidden = scatterSpec({ coords, title: 'T', xTitle: 'X', yTitle: 'Y', axes: 'hidden' }).encoding as Record<string, { axis?: { labels: boolean } }>;
  assert.equal(hidden.x.axis?.labels, false);
  assert.equal(hidden.y.axis?.labels, false);
});
