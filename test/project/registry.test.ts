import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../helpers.js';
import { createRng } from '../../src/core/rng.js';
import { PROJECTION_METHODS, projectFeatures } from '../../src/project/index.js';

/** The same contract for every registered projection: n x 2 finite coordinates, metrics in range, inputs untouched. */
for (const method of PROJECTION_METHODS) {
  test(`projection '${method}' honours the contract`, async (t) => {
    const dir = tempDir(t);
    const rng = createRng(11);
    const points = Array.from({ length: 60 }, (_, i) => Float32Array.from({ length: 4 }, (_, j) => (j === i % 2 ? 5 : 0) + rng.normal()));
    const copy = points.map((p) => p.slice());
    const labels = points.map((_, i) => i % 2);
    const summary = await projectFeatures({ points, labels, method, outDir: dir, title: 'contract', seed: 1, perplexity: 5, iterations: 300, quiet: true });
    assert.equal(summary.results.length, 1);
    const r = summary.results[0];
    assert.equal(r.method, method);
    assert.ok(r.trustworthiness >= 0 && r.trustworthiness <= 1);
    assert.ok(r.knnAccuracy !== null && r.knnAccuracy >= 0.9, `two separated classes: ${r.knnAccuracy}`);
    const rows = readFileSync(path.join(dir, `embed-${method}.csv`), 'utf8').trim().split('\n').slice(1);
    assert.equal(rows.length, 60);
    for (const row of rows) {
      const [, , , x, y] = row.split(',');
      assert.ok(Number.isFinite(Number(x)) && Number.isFinite(Number(y)));
    }
    points.forEach((p, i) => assert.deepEqual(p, copy[i], 'points not mutated'));
  });
}
