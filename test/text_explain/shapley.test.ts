/**
 * Token Shapley values against a brute-force enumeration of all orderings, efficiency of the
 * exact values, coverage of the sampled 95% intervals, the masks, Integrated Gradients'
 * completeness, and no leaked tensors: on tiny models with fixed weights (fixtures.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { exactShapley, sampledShapley, type CoalitionGame } from '../../src/explain/shapley.js';
import { OOV_ID, PAD_ID } from '../../src/sst2/data.js';
import { encodeTokens, maskTokens, TokenGame, MASK_NAMES } from '../../src/text_explain/game.js';
import { exactShapleyUpTo } from '../../src/text_explain/token_shapley.js';
import { integratedGradients } from '../../src/text_explain/integrated_gradients.js';
import { explainWithModel, TEXT_EXPLAIN_DEFAULTS } from '../../src/text_explain/run.js';
import { tinyModel } from './fixtures.js';

await tf.setBackend('cpu');

/** Shapley values as the mean marginal contribution over all n! orderings (brute force). */
async function bruteForceShapley(game: CoalitionGame): Promise<number[]> {
  const n = game.players;
  const perms: number[][] = [];
  const permute = (prefix: number[], rest: number[]) => {
    if (rest.length === 0) perms.push(prefix);
    rest.forEach((r, i) => permute([...prefix, r], [...rest.slice(0, i), ...rest.slice(i + 1)]));
  };
  permute([], [...Array(n).keys()]);
  const phi = new Array<number>(n).fill(0);
  for (const pi of perms) {
    const c = new Uint8Array(n);
    const chain = [c.slice()];
    for (const p of pi) {
      c[p] = 1;
      chain.push(c.slice());
    }
    const v = await game.values(chain);
    pi.forEach((p, j) => (phi[p] += (v[j + 1] - v[j]) / perms.length));
  }
  return phi;
}

/** A game whose values are computed once (all 2^n coalitions), for many sampling trials. */
async function tabulated(game: CoalitionGame): Promise<CoalitionGame> {
  const n = game.players;
  const all = Array.from({ length: 2 ** n }, (_, m) => Uint8Array.from({ length: n }, (_, i) => (m >> i) & 1));
  const v = await game.values(all);
  const index = (c: Uint8Array) => c.reduce((m, x, i) => m | (x << i), 0);
  return { players: n, values: async (cs) => Float64Array.from(cs, (c) => v[index(c)]) };
}

const SENTENCE = 'the movie is a gorgeous witty mess'.split(' ');

test('exact token Shapley values equal a brute-force enumeration of all orderings, for every mask', async () => {
  const { model, vocab } = tinyModel('ensemble');
  try {
    for (const mask of MASK_NAMES) {
      const game = new TokenGame(model, encodeTokens(SENTENCE.slice(0, 5), vocab), { mask, target: 1, batch: 64 });
      const exact = await exactShapleyUpTo(game, 14, 7);
      const brute = await bruteForceShapley(game);
      exact.phi.forEach((p, i) => assert.ok(Math.abs(p - brute[i]) <= 1e-9 * Math.max(1, Math.abs(brute[i])), `${mask} token ${i}: ${p} vs ${brute[i]}`));
      assert.ok(exact.phi.some((p) => Math.abs(p) > 1e-3), `${mask}: the values are not all ~0 (${exact.phi})`);
    }
  } finally {
    model.dispose();
  }
});

test('exact values: efficiency gap <= 1e-4, equal to explain/shapley.ts exactShapley within its 12 players', async () => {
  const { model, vocab } = tinyModel('lstm');
  try {
    const game = new TokenGame(model, encodeTokens(SENTENCE, vocab), { mask: 'oov', target: 0, batch: 32 });
    const mine = await exactShapleyUpTo(game, 14, 32);
    const theirs = await exactShapley(game, { batch: 32 });
    assert.ok(mine.efficiencyGap <= 1e-4, `gap ${mine.efficiencyGap}`);
    const total = mine.phi.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - (mine.vFull - mine.vEmpty)) <= 1e-4 * Math.max(1, Math.abs(mine.vFull - mine.vEmpty)));
    mine.phi.forEach((p, i) => assert.ok(Math.abs(p - theirs.phi[i]) <= 1e-9, `token ${i}`));
  } finally {
    model.dispose();
  }
});

test('sampled Shapley: the exact value lies inside the 95% interval in >= 90% of 100 seeded trials', async () => {
  const { model, vocab } = tinyModel('ensemble');
  try {
    const game = await tabulated(new TokenGame(model, encodeTokens(SENTENCE, vocab), { mask: 'oov', target: 1, batch: 128 }));
    const exact = await exactShapleyUpTo(game, 14, 128);
    let inside = 0;
    let total = 0;
    for (let seed = 0; seed < 100; seed++) {
      const r = await sampledShapley(game, { samples: 16, batch: 128, exact: false, seed });
      exact.phi.forEach((p, i) => {
        total += 1;
        if (p >= r.ciLow[i] - 1e-9 && p <= r.ciHigh[i] + 1e-9) inside += 1;
      });
    }
    assert.ok(inside / total >= 0.9, `coverage ${inside}/${total}`);
  } finally {
    model.dispose();
  }
});

test('masks: oov and pad keep the length, drop removes tokens, the empty drop coalition is one <pad>', () => {
  const { model, vocab } = tinyModel('ensemble');
  model.dispose();
  const tokens = encodeTokens(['a', 'gorgeous', 'movie'], vocab);
  const c = Uint8Array.of(1, 0, 1);
  assert.deepEqual([...maskTokens(tokens, c, 'oov').ids], [tokens.ids[0], OOV_ID, tokens.ids[2]]);
  assert.deepEqual([...maskTokens(tokens, c, 'pad').ids], [tokens.ids[0], PAD_ID, tokens.ids[2]]);
  assert.equal(maskTokens(tokens, c, 'oov').subwords[1].length, 0, 'a masked token has no n-grams');
  assert.ok(tokens.subwords[1].length > 0);
  assert.deepEqual([...maskTokens(tokens, c, 'drop').ids], [tokens.ids[0], tokens.ids[2]]);
  assert.deepEqual([...maskTokens(tokens, new Uint8Array(3), 'drop').ids], [PAD_ID]);
});

test('Integrated Gradients: completeness gap <= 1% at 64 steps (one network), shrinking with the steps (ensemble with subwords)', async () => {
  const ig = async (kind: 'lstm' | 'ensemble', steps: number) => {
    const { model, vocab } = tinyModel(kind, 7, 2);
    try {
      return await integratedGradients.explain({ model, tokens: encodeTokens(SENTENCE, vocab), target: 1, settings: { ...TEXT_EXPLAIN_DEFAULTS, igSteps: steps, seed: 1 } });
    } finally {
      model.dispose();
    }
  };
  const one = await ig('lstm', 64);
  assert.ok(Math.abs(one.vFull - one.vEmpty) > 0.05, `the path changes the output (${one.vFull} vs ${one.vEmpty})`);
  assert.ok(one.gap! <= 0.01, `one network: completeness gap ${one.gap}`);
  // The CNN's ReLU and max over time make the path kinked: the trapezoid rule needs more points.
  const coarse = await ig('ensemble', 64);
  const fine = await ig('ensemble', 1024);
  assert.ok(fine.gap! < coarse.gap! && fine.gap! <= 0.01, `ensemble: gap ${coarse.gap} at 64 steps, ${fine.gap} at 1024`);
});

test('explainWithModel leaks no tensors (every method, sampled and exact, ensemble with subwords)', async () => {
  const { model, vocab } = tinyModel('ensemble');
  try {
    const settings = { ...TEXT_EXPLAIN_DEFAULTS, exactMax: 4, samples: 4, igSteps: 8 };
    await explainWithModel(model, vocab, ['a gorgeous movie', SENTENCE.join(' ')], settings); // warm-up
    const before = tf.memory().numTensors;
    const out = await explainWithModel(model, vocab, ['a gorgeous movie', SENTENCE.join(' ')], settings);
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(out.map((e) => e.results.map((r) => r.estimator)), [['exact', 'occlusion', 'path'], ['permutation', 'occlusion', 'path']]);
  } finally {
    model.dispose();
  }
});
