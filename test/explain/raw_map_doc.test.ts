/**
 * The Python snippet of docs/RAW_MAPS.md, run as written (the file name swapped for a map written
 * by dnnkit's encoder) with numpy and Pillow: it must decode the same values as `decodeRawMap`,
 * NaN in the same places.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { decodeRawMap, encodeRawMap } from '../../src/explain/raw_map.js';
import { ROOT, requireOracle, tempDir } from '../helpers.js';

test('docs/RAW_MAPS.md: the Python snippet decodes a raw map as decodeRawMap does', (t) => {
  const python = requireOracle(t, ['numpy', 'PIL']);
  if (!python) return;
  const doc = readFileSync(path.join(ROOT, 'docs', 'RAW_MAPS.md'), 'utf8');
  const m = /<!-- raw-map-snippet[^>]*-->\s*```python\n([\s\S]*?)```/.exec(doc);
  assert.ok(m, 'the snippet is in the doc, after its marker');
  const snippet = m[1];
  assert.ok(snippet.trim().split('\n').length <= 8, 'a short snippet');
  const [w, h] = [41, 27];
  const covered = { x: 4, y: 3, width: 33, height: 21 };
  const values = Float32Array.from({ length: w * h }, (_, p) => {
    const [x, y] = [p % w, Math.floor(p / w)];
    return x >= covered.x && x < covered.x + covered.width && y >= covered.y && y < covered.y + covered.height ? Math.sin(x / 5) * (y - 10) * 0.3 : NaN;
  });
  const png = encodeRawMap(values, w, h, covered, { values: 'test', method: 'ig', model: 'm', image: 'x', classIndex: 0, label: 'a' });
  const dir = tempDir(t);
  const file = path.join(dir, 'map.raw.png');
  writeFileSync(file, png);
  const script = snippet.replace(/'[^']*\.raw\.png'/, JSON.stringify(file)) + '\nimport sys\njson.dump([None if np.isnan(x) else float(x) for x in value.ravel()], sys.stdout)\n';
  const r = spawnSync(python, ['-c', script], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  const fromPython = JSON.parse(r.stdout) as (number | null)[];
  const { values: ours, info } = decodeRawMap(png);
  const halfStep = (info.max - info.min) / 131070;
  assert.equal(fromPython.length, w * h);
  fromPython.forEach((v, p) => {
    if (v === null) assert.ok(Number.isNaN(ours[p]), `pixel ${p}: NaN in Python only`);
    else assert.ok(Math.abs(v - ours[p]) < 1e-6 && Math.abs(v - values[p]) <= halfStep + 1e-9, `pixel ${p}: ${v} vs ${ours[p]} (true ${values[p]})`);
  });
});
