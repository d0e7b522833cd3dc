import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { createRng } from '../../src/core/rng.js';
import { buildVocabulary, charNgrams, encode, encodeSubwords, flattenSubwords, loadVocabulary, saveVocabulary, type Example } from '../../src/sst2/data.js';
import { CnnSentimentClassifier } from '../../src/sst2/cnn.js';
import { createClassifier, LstmSentimentClassifier, type Sst2ModelConfig } from '../../src/sst2/model.js';
import { loadClassifier, saveClassifier } from '../../src/sst2/saved.js';
import { subwordTensors } from '../../src/sst2/batches.js';
import { subwordBag } from '../../src/sst2/subword_bag.js';
import { lastJson, runCli, sst2Subset, tempDir } from '../helpers.js';

const examples = (sentences: string[][]): Example[] => sentences.map((tokens, i) => ({ id: `train-${i}`, tokens, label: (i % 2) as 0 | 1, line: i + 1 }));

test('subwords: the character 3- to 5-grams of <word>, distinct and sorted', () => {
  assert.deepEqual(charNgrams('ab'), ['<ab', '<ab>', 'ab>']);
  assert.deepEqual(charNgrams('aaaa'), ['<aa', '<aaa', '<aaaa', 'aa>', 'aaa', 'aaa>', 'aaaa', 'aaaa>']);
  assert.equal(charNgrams('watchable').length, 9 + 8 + 7, '<watchable> has 11 characters: 9 3-grams, 8 4-grams, 7 5-grams');
});

test('subwords: the vocabulary keeps n-grams of at least N distinct training words (rare words count), most widespread first', () => {
  // "watched" once, "watching" once, "watch" three times: types, not occurrences, are counted.
  const train = examples([['watch', 'watched'], ['watch', 'watching'], ['watch', 'it']]);
  const vocab = buildVocabulary(train, 2, 10, 0, 2);
  assert.deepEqual(vocab.tokens, ['<pad>', '<oov>', 'watch'], 'words still need --min-count');
  // In >= 2 of {watch, watched, watching, it}: the n-grams of "<watch" shared by three words, "watche"-less.
  assert.deepEqual(vocab.subwords, ['<wa', '<wat', '<watc', 'atc', 'atch', 'tch', 'wat', 'watc', 'watch']);
  assert.ok(!vocab.subwords.includes('tch>'), "'tch>' ends only 'watch'");
  assert.equal(buildVocabulary(train, 2, undefined, 0, 3).subwords.length, 9, 'all nine are in all three watch- words');
  assert.equal(buildVocabulary(train, 2, undefined, 0, 4).subwords.length, 0);
  assert.deepEqual(buildVocabulary(train, 2).subwords, [], 'off by default');

  // An unknown word gets the ids of its known n-grams; a word with none gets an empty list.
  const grams = encodeSubwords(['watchers', 'it', 'watch'], vocab);
  assert.deepEqual(Array.from(encode(['watchers', 'it', 'watch'], vocab)), [1, 1, 2]);
  assert.deepEqual(grams.map((g) => Array.from(g).map((id) => vocab.subwords[id]).sort()), [
    ['<wa', '<wat', '<watc', 'atc', 'atch', 'tch', 'wat', 'watc', 'watch'], [], ['<wa', '<wat', '<watc', 'atc', 'atch', 'tch', 'wat', 'watc', 'watch']]);
  // Truncation keeps the same tokens as encode.
  const short = { ...vocab, maxLen: 2 };
  assert.equal(encodeSubwords(['watch', 'it', 'watch'], short).length, encode(['watch', 'it', 'watch'], short).length);
  assert.equal(encodeSubwords(['watch', 'it', 'watch'], short)[0].length, 0, 'the first token was cut');
});

test('subwords: flattened batches are time-major with weights 1 / the n-gram count of each token', () => {
  const a = [Int32Array.from([4, 5]), Int32Array.from([])];
  const b = [Int32Array.from([6]), Int32Array.from([7, 8, 9, 3])];
  const flat = flattenSubwords([a, b]);
  assert.deepEqual(Array.from(flat.ids), [4, 5, 6, 7, 8, 9, 3]);
  // batch 2: sentence 0 at positions 0 (t=0), 2 (t=1); sentence 1 at 1, 3.
  assert.deepEqual(Array.from(flat.positions), [0, 0, 1, 3, 3, 3, 3]);
  assert.deepEqual(Array.from(flat.weights), [0.5, 0.5, 1, 0.25, 0.25, 0.25, 0.25]);
});

test('subwords: the vocabulary file keeps the n-grams; an older file without them reads as none', async (t) => {
  const dir = tempDir(t);
  const vocab = buildVocabulary(examples([['watch', 'watched'], ['watch', 'watching']]), 1, undefined, 0, 2);
  await saveVocabulary(vocab, dir);
  const back = await loadVocabulary(dir);
  assert.deepEqual(back.subwords, vocab.subwords);
  assert.equal(back.subwordMinTypes, 2);
  assert.deepEqual(Array.from(encodeSubwords(['watcher'], back)[0]), Array.from(encodeSubwords(['watcher'], vocab)[0]));
  const file = path.join(dir, 'vocab.json');
  const json = JSON.parse(readFileSync(file, 'utf8'));
  delete json.subwords;
  delete json.subwordMinTypes;
  writeFileSync(file, JSON.stringify(json));
  assert.deepEqual((await loadVocabulary(dir)).subwords, []);
  writeFileSync(file, JSON.stringify({ ...json, subwords: 'abc' }));
  await assert.rejects(loadVocabulary(dir), /'subwords' is not a list of character n-grams/);
});

const config: Sst2ModelConfig = { vocabSize: 6, embeddingDim: 3, units: 4, layers: 1, bidirectional: false, dropout: 0, pooling: 'last', subwords: 5 };

test('subwords: word vectors are the word\'s vector plus the mean of its n-gram vectors, gradients included; other weights as without', async () => {
  await initBackend();
  const net = new LstmSentimentClassifier(config, 4);
  const plain = new LstmSentimentClassifier({ ...config, subwords: undefined }, 4);
  assert.deepEqual(plain.variables.map((v) => v.shape), net.variables.slice(0, -1).map((v) => v.shape));
  plain.variables.forEach((v, i) => assert.deepEqual(v.dataSync(), net.variables[i].dataSync(), `${v.name} differs with subword vectors`));
  assert.deepEqual(net.subwordEmbedding!.shape, [5, 3]);

  // Two sentences of three tokens; per token its n-gram ids (one token has none).
  const sentences = [[2, 1, 3], [4, 5, 1]];
  const grams = [[[0, 1], [2, 3, 4], []], [[4], [1, 1, 2], [0, 3]]].map((s) => s.map((g) => Int32Array.from(g)));
  const ids = tf.tensor2d(Int32Array.from(sentences.flat()), [2, 3], 'int32');
  const sub = subwordTensors(grams, [0, 1]);
  const W = net.embedding.arraySync() as number[][];
  const G = net.subwordEmbedding!.arraySync() as number[][];
  const vectors = tf.tidy(() => net.wordVectors(ids, sub).arraySync()) as number[][][];
  for (let t = 0; t < 3; t++) {
    for (let b = 0; b < 2; b++) {
      const g = Array.from(grams[b][t]);
      for (let e = 0; e < 3; e++) {
        const want = W[sentences[b][t]][e] + (g.length ? g.reduce((s, id) => s + G[id][e], 0) / g.length : 0);
        assert.ok(Math.abs(vectors[t][b][e] - want) < 1e-6, `t ${t}, sentence ${b}, dim ${e}: ${vectors[t][b][e]} vs ${want}`);
      }
    }
  }
  // d(sum(vectors * R)) / dG[id] = sum over the tokens with that n-gram of R at the token / its n-gram count
  // (an n-gram listed twice in one token counts twice).
  const R = Array.from({ length: 3 }, (_, t) => Array.from({ length: 2 }, (_, b) => [1 + t, -b, 0.5 * (t - b)]));
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(net.wordVectors(ids, sub), tf.tensor3d(R))), [net.subwordEmbedding!]);
  const grad = grads[net.subwordEmbedding!.name].arraySync() as number[][];
  tf.dispose([value, ...Object.values(grads)]);
  const want = Array.from({ length: 5 }, () => [0, 0, 0]);
  grams.forEach((s, b) => s.forEach((g, t) => g.forEach((id) => R[t][b].forEach((r, e) => (want[id][e] += r / g.length)))));
  grad.forEach((row, id) => row.forEach((v, e) => assert.ok(Math.abs(v - want[id][e]) < 1e-5, `dG[${id}][${e}]: ${v} vs ${want[id][e]}`)));

  // A batch without any known n-gram, and the missing input.
  const none = subwordTensors([[new Int32Array(0), new Int32Array(0), new Int32Array(0)]], [0]);
  const ids1 = tf.tensor2d(Int32Array.from([2, 1, 3]), [1, 3], 'int32');
  assert.deepEqual(tf.tidy(() => net.wordVectors(ids1, none).arraySync()), tf.tidy(() => plain.wordVectors(ids1).arraySync()));
  assert.throws(() => tf.tidy(() => net.forward(ids, { training: false }).logits), /has subword vectors: give the batch's subword ids/);
  tf.dispose([ids, ids1, sub.ids, sub.positions, sub.weights, none.ids, none.positions, none.weights]);
  net.dispose();
  plain.dispose();
});

test('subwords: an ensemble with a CNN trains every n-gram vector it sees, saves and loads; a vocabulary that does not fit is refused', async (t) => {
  await initBackend();
  const train = examples([['a', 'good', 'film'], ['a', 'goodish', 'filmic', 'film'], ['bad', 'film'], ['badly', 'made']]);
  const vocab = buildVocabulary(train, 1, undefined, 0, 2);
  const cfg: Sst2ModelConfig = { ...config, vocabSize: vocab.tokens.length, subwords: vocab.subwords.length, members: 1, cnnMembers: 1, cnnFilters: 8, cnnWidths: [2] };
  const model = createClassifier(cfg, 3);
  assert.ok(model.networks[1] instanceof CnnSentimentClassifier && model.networks[1].subwordEmbedding, 'the CNN has subword vectors too');
  const sentences = [['goodish', 'films'], ['badly', 'film']];
  const ids = tf.tensor2d(Int32Array.from(sentences.flatMap((s) => Array.from(encode(s, vocab)))), [2, 2], 'int32');
  const grams = sentences.map((s) => encodeSubwords(s, vocab));
  const sub = subwordTensors(grams, [0, 1]);
  const labels = tf.tensor1d([1, 0]);
  const before = model.networks.map((n) => n.subwordEmbedding!.arraySync() as number[][]);
  const optimizer = tf.train.adam(0.05);
  tf.dispose(optimizer.minimize(() => tf.losses.sigmoidCrossEntropy(labels, model.forward(ids, { training: true, rng: createRng(1), subwords: sub }).logits) as tf.Scalar, true, model.variables)!);
  const seen = new Set(grams.flatMap((s) => s.flatMap((g) => Array.from(g))));
  model.networks.forEach((n, k) => (n.subwordEmbedding!.arraySync() as number[][]).forEach((row, id) => {
    assert.equal(row.some((v, e) => v !== before[k][id][e]), seen.has(id), `network ${k + 1}, n-gram '${vocab.subwords[id]}'`);
  }));

  const dir = tempDir(t);
  await saveClassifier(model, vocab, dir);
  const { model: loaded, vocab: back } = await loadClassifier(dir);
  assert.equal(back.subwords.length, cfg.subwords);
  const [p, q] = tf.tidy(() => [model, loaded].map((m) => tf.sigmoid(m.forward(ids, { training: false, subwords: sub }).logits).dataSync()));
  assert.deepEqual(q, p);
  loaded.dispose();
  await saveVocabulary({ ...vocab, subwords: vocab.subwords.slice(1) }, dir);
  await assert.rejects(loadClassifier(dir), new RegExp(`vocab.json has ${cfg.subwords! - 1} subwords but the model expects ${cfg.subwords}`));
  tf.dispose([ids, labels, sub.ids, sub.positions, sub.weights]);
  optimizer.dispose();
  model.dispose();
});

test('sst2 --subwords: trains, saves the n-grams and predicts unknown words from them', async (t) => {
  const dir = tempDir(t);
  const data = sst2Subset(dir, { train: 300, dev: 50, test: 50 });
  const out = path.join(dir, 'run');
  const run = await runCli(['sst2', '--data-dir', data, '--epochs', '1', '--ensemble', '1', '--units', '6', '--embedding-dim', '6', '--subwords', '3', '--embed-plot', 'none', '--out', out, '--json']);
  assert.equal(run.code, 0, run.stderr);
  assert.ok((lastJson(run).testAccuracy as number) > 0);
  const json = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'));
  const vocab = JSON.parse(readFileSync(path.join(out, 'model', 'vocab.json'), 'utf8'));
  assert.equal(json.settings.subwords, 3);
  assert.ok(json.settings.model.subwords > 100, `${json.settings.model.subwords} n-grams`);
  assert.equal(vocab.subwords.length, json.settings.model.subwords);
  assert.deepEqual(vocab.subwordNgrams, [3, 5]);
  // Two unknown words: without subword vectors both would be <oov>, so the sentences would tie.
  const predict = await runCli(['sst2', 'predict', '--model', path.join(out, 'model'), '--json', 'zzqwonderfulness', 'zzqawfulness']);
  assert.equal(predict.code, 0, predict.stderr);
  const preds = lastJson(predict).predictions as { positive: number; unknownWords: string[] }[];
  assert.deepEqual(preds.map((p) => p.unknownWords), [['zzqwonderfulness'], ['zzqawfulness']]);
  assert.notEqual(preds[0].positive, preds[1].positive);
  const bad = await runCli(['sst2', '--data-dir', data, '--subwords', '-1', '--out', path.join(dir, 'bad')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--subwords/);
});

for (const backend of ['wasm', 'cpu'] as const) {
  test(`subwords: the bag kernel equals gather, multiply and unsortedSegmentSum in values and table gradient (${backend})`, async () => {
    await initBackend(backend);
    const rng = createRng(9);
    const [rows, dim, n, positions] = [7, 5, 12, 4];
    const table = tf.tensor2d(Float32Array.from({ length: rows * dim }, () => rng.normal()), [rows, dim]);
    const ids = tf.tensor1d(Int32Array.from({ length: n }, () => rng.int(rows)), 'int32');
    const pos = tf.tensor1d(Int32Array.from({ length: n }, (_, j) => j % 3), 'int32'); // position 3 gets nothing
    const weights = tf.tensor1d(Float32Array.from({ length: n }, () => rng.next()));
    const dy = tf.tensor2d(Float32Array.from({ length: positions * dim }, () => rng.normal()), [positions, dim]);
    const before = tf.memory().numTensors;
    const [bag, dBag] = tf.tidy(() => [subwordBag(table, ids, pos, weights, positions),
      tf.grad((t: tf.Tensor) => tf.sum(tf.mul(subwordBag(t as tf.Tensor2D, ids, pos, weights, positions), dy)))(table)]);
    assert.equal(tf.memory().numTensors, before + 2, 'no leaked tensors');
    const composite = (t: tf.Tensor) => tf.unsortedSegmentSum(tf.mul(tf.gather(t, ids), tf.expandDims(weights, 1)), pos, positions);
    const [ref, dRef] = tf.tidy(() => [composite(table), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(composite(t), dy)))(table)]);
    for (const [name, a, b] of [['values', bag, ref], ['table gradient', dBag, dRef]] as const) {
      assert.deepEqual(a.shape, b.shape, name);
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
      assert.ok(diff < 1e-5, `${name} differ by ${diff}`);
    }
    assert.deepEqual(Array.from(bag.dataSync().slice(3 * dim)), new Array(dim).fill(0), 'a position without n-grams is zero');
    const bad = tf.tensor1d(Int32Array.from({ length: n }, () => rows), 'int32');
    assert.throws(() => tf.tidy(() => subwordBag(table, bad, pos, weights, positions)), /out of range/);
    tf.dispose([table, ids, pos, weights, dy, bag, dBag, ref, dRef, bad]);
    await initBackend();
  });
}
