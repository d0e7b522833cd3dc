/**
 * Spearman and SSIM (core/similarity.ts): hand-worked values, then scipy.stats.spearmanr and
 * skimage.metrics.structural_similarity (Gaussian window, sigma 1.5, population covariance) as
 * oracles on random maps with ties, of non-square size (a transposed window would show).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { averageRanks, spearman, ssim } from '../../src/core/similarity.js';
import { createRng } from '../../src/core/rng.js';
import { requireOracle } from '../helpers.js';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('average ranks share the mean rank of a tie', () => {
  assert.deepEqual(Array.from(averageRanks([10, 20, 20, 30])), [1, 2.5, 2.5, 4]);
  assert.deepEqual(Array.from(averageRanks([3, 1, 3, 3, 0])), [4, 2, 4, 4, 1]);
});

test('Spearman: hand-worked values, ties, invariance to monotone maps, undefined for a constant', () => {
  // No ties: 1 - 6 sum d^2 / (n (n^2 - 1)) = 1 - 6 * 2 / 60 = 0.8.
  close(spearman([1, 2, 3, 4], [1, 3, 2, 4]), 0.8, 1e-12, 'one swap');
  // Ties: ranks [1, 2.5, 2.5, 4] vs [1, 2, 3, 4]: Pearson = 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10).
  close(spearman([1, 2, 2, 3], [1, 2, 3, 4]), 3 / Math.sqrt(10), 1e-12, 'a tie');
  const x = [0.3, -2, 5, 1.1, 0];
  close(spearman(x, x.map(Math.exp)), 1, 1e-12, 'monotone increasing');
  close(spearman(x, x.map((v) => -v * v * v)), -1, 1e-12, 'monotone decreasing');
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
  assert.throws(() => spearman([1, 2], [1]), /lengths differ/);
});

test('SSIM: 1 for identical maps, the closed form for constant maps, lower for a changed map', () => {
  const rng = createRng(3);
  const a = Float32Array.from({ length: 20 * 15 }, () => rng.next());
  close(ssim(a, a, 20, 15), 1, 1e-12, 'identical');
  // Constant maps a, b: variances and covariance are 0, so SSIM = (2ab + C1) / (a^2 + b^2 + C1), C1 = 1e-4.
  const c = new Float32Array(12 * 12).fill(0.2);
  const d = new Float32Array(12 * 12).fill(0.6);
  close(ssim(c, d, 12, 12), (2 * 0.2 * 0.6 + 1e-4) / (0.04 + 0.36 + 1e-4), 1e-6, 'constant maps');
  const noisy = a.map((v) => Math.min(1, Math.max(0, v + (rng.next() - 0.5))));
  const s = ssim(a, noisy, 20, 15);
  assert.ok(s < 0.9 && s > 0, `noise lowers SSIM: ${s}`);
  assert.throws(() => ssim(new Float32Array(100), new Float32Array(100), 10, 10), /smaller than the 11x11 window/);
});

test('Spearman and SSIM equal scipy.stats.spearmanr and skimage structural_similarity (oracle)', (t) => {
  const python = requireOracle(t, ['scipy', 'skimage']);
  if (!python) return;
  const rng = createRng(11);
  const cases: { w: number; h: number; x: number[]; y: number[] }[] = [];
  for (const [w, h] of [[28, 28], [40, 23], [13, 17]]) {
    // Values rounded to 0.1 so that many ties occur (Spearman's tie handling is tested), and y
    // partly follows x (the SSIM is neither ~0 nor ~1).
    const x = Array.from({ length: w * h }, () => Math.round(rng.next() * 10) / 10);
    const y = x.map((v) => Math.round(Math.min(1, Math.max(0, 0.7 * v + 0.3 * rng.next())) * 10) / 10);
    cases.push({ w, h, x, y });
  }
  const script = `
import json, sys
import numpy as np
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity
out = []
for c in json.load(sys.stdin):
    x = np.array(c['x'], dtype=np.float64).reshape(c['h'], c['w'])
    y = np.array(c['y'], dtype=np.float64).reshape(c['h'], c['w'])
    rho = spearmanr(x.ravel(), y.ravel()).correlation
    s = structural_similarity(x, y, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    out.append([float(rho), float(s)])
print(json.dumps(out))
`;
  const r = spawnSync(python, ['-c', script], { input: JSON.stringify(cases), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const ref = JSON.parse(r.stdout) as [number, number][];
  cases.forEach((c, i) => {
    const rho = spearman(c.x, c.y);
    const s = ssim(c.x, c.y, c.w, c.h);
    t.diagnostic(`${c.w}x${c.h}: spearman ${rho.toFixed(6)} (scipy ${ref[i][0].toFixed(6)}), ssim ${s.toFixed(6)} (skimage ${ref[i][1].toFixed(6)})`);
    close(rho, ref[i][0], 1e-9, `${c.w}x${c.h} spearman`);
    close(s, ref[i][1], 1e-9, `${c.w}x${c.h} ssim`);
    assert.ok(ref[i][1] > 0.1 && ref[i][1] < 0.95, 'the case is not trivial');
  });
});
