import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tempDir, ROOT } from '../helpers.js';
import { createRng } from '../../src/core/rng.js';
import { InputError } from '../../src/core/errors.js';
import {
  backoffId, buildVocabulary, encode, encodeBackoff, lengthBatches, loadSst2, oovRate, padIds, parseSst2Tsv, tokenize, OOV_ID, PAD_ID, tokenizeText,
} from '../../src/sst2/data.js';

test('the shipped SST-2 split: sentence layout, 6,920 / 872 / 1,821 sentences, all labelled', async () => {
  const data = await loadSst2(path.join(ROOT, 'data', 'sst2'));
  assert.equal(data.layout, 'sentence');
  assert.equal(data.train.examples.length, 6920);
  assert.equal(data.dev.examples.length, 872);
  assert.equal(data.test.examples.length, 1821);
  assert.ok(data.test.labelled);
  // The last line has no newline and must still be read.
  const last = data.dev.examples[871];
  assert.equal(last.line, 872);
  assert.ok(last.label === 0 || last.label === 1);
});

test('quote characters are text (no CSV quoting in SST-2)', () => {
  const { examples } = parseSst2Tsv('" a film "\t1\nit \'s `` great \'\'\t0', 'x.tsv', 'train');
  assert.deepEqual(examples[0].tokens, ['"', 'a', 'film', '"']);
  assert.deepEqual(examples[1].tokens, ['it', "'s", '``', 'great', "''"]);
  assert.deepEqual(examples.map((e) => e.label), [1, 0]);
});

test('GLUE layout: header detected, test split without labels', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'train.tsv'), 'sentence\tlabel\nhide new secretions \t0\nthe greatest musicians \t1\n');
  writeFileSync(path.join(dir, 'dev.tsv'), 'sentence\tlabel\nit \'s a charming journey . \t1\n');
  writeFileSync(path.join(dir, 'test.tsv'), 'index\tsentence\n0\tuneasy mishmash of styles\n1\tthis film is good\n');
  const data = await loadSst2(dir);
  assert.equal(data.layout, 'glue');
  assert.equal(data.train.examples.length, 2);
  assert.deepEqual(data.train.examples[0].tokens, ['hide', 'new', 'secretions']);
  assert.equal(data.train.examples[1].line, 3);
  assert.equal(data.test.labelled, false);
  assert.deepEqual(data.test.examples.map((e) => e.label), [null, null]);
  assert.deepEqual(data.test.examples[1].tokens, ['this', 'film', 'is', 'good']);
});

test('bad labels, empty sentences and wrong cell counts name the file and line', () => {
  const cases: [string, RegExp][] = [
    ['good\t1\nbad\t2\n', /x\.tsv:2: label '2' is not 0 or 1/],
    ['good\t1\nbad\tpositive', /x\.tsv:2: label 'positive'/],
    ['good\t1\nfine\t0\n \t1\n', /x\.tsv:3: empty sentence/],
    ['good\t1\nno label here\n', /x\.tsv:2: expected 2 tab-separated cells/],
    ['good\t1\t0\n', /x\.tsv:1: expected 2/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseSst2Tsv(text, 'x.tsv', 'train'), (err: Error) => err instanceof InputError && re.test(err.message) && !err.message.includes('\n'), text);
  }
});

test('a dev split without labels is an error; a missing file names the split', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'train.tsv'), 'sentence\tlabel\ngood\t1\n');
  writeFileSync(path.join(dir, 'dev.tsv'), 'index\tsentence\n0\tgood\n');
  writeFileSync(path.join(dir, 'test.tsv'), 'index\tsentence\n0\tgood\n');
  await assert.rejects(loadSst2(dir), /dev\.tsv has no label column/);
  const empty = path.join(dir, 'empty');
  mkdirSync(empty);
  await assert.rejects(loadSst2(empty), /SST-2 train split not found/);
});

test('vocabulary: <pad>=0, <oov>=1, min count, frequency order, the longest training sentence as length', () => {
  const mk = (s: string) => ({ id: '', tokens: tokenize(s), label: 1 as const, line: 1 });
  const train = [mk('a b c'), mk('a b'), mk('a'), mk('a b c d e f g h i j')];
  const v = buildVocabulary(train, 2);
  assert.deepEqual(v.tokens, ['<pad>', '<oov>', 'a', 'b', 'c']);
  assert.equal(v.maxLen, 10);
  // The longest sentence, not a percentile: 30 one-word sentences and one of 7 words.
  assert.equal(buildVocabulary([...Array.from({ length: 30 }, () => mk('a')), mk('a b c d e f g')], 1).maxLen, 7);
  assert.deepEqual([...encode(['a', 'zzz', 'c'], v)], [2, OOV_ID, 4]);
  // Truncation keeps the last maxLen tokens.
  const short = { ...v, maxLen: 2 };
  assert.deepEqual([...encode(['a', 'b', 'c'], short)], [3, 4]);
  assert.deepEqual([...padIds([Int32Array.of(5), Int32Array.of(6, 7, 8)], 2)], [5, PAD_ID, 6, 7]);
});

test('--oov-prefix: unknown words back off to the entry of their prefix when training had it, word dropout uses the same ids', () => {
  const mk = (s: string) => ({ id: '', tokens: tokenize(s), label: 1 as const, line: 1 });
  const train = [mk('boring boredom bore charming'), mk('boring bored charm'), mk('charming')];
  const v = buildVocabulary(train, 2, 10, 3);
  // Words seen twice, then prefixes (of words longer than 3 letters) seen twice: bor x4, cha x3.
  assert.deepEqual(v.tokens, ['<pad>', '<oov>', 'boring', 'charming', '<oov:bor>', '<oov:cha>']);
  const bor = v.index.get('<oov:bor>')!;
  const cha = v.index.get('<oov:cha>')!;
  assert.equal(backoffId('borderline', v), bor);
  assert.equal(backoffId('bor', v), OOV_ID, 'a word no longer than the prefix has none');
  assert.equal(backoffId('zebra', v), OOV_ID, 'a prefix training never saw');
  // Known words keep their id; unknown ones (rare training words too) take their prefix entry.
  assert.deepEqual([...encode(['boring', 'boredom', 'charmless', 'zebra', 'a'], v)], [2, bor, cha, OOV_ID, OOV_ID]);
  assert.deepEqual([...encodeBackoff(['boring', 'boredom', 'charmless', 'zebra'], v)], [bor, bor, cha, OOV_ID]);
  assert.equal(oovRate([mk('boring boredom zebra a')], v), 0.75);
  assert.equal(oovRate([mk('boring boredom zebra a')], v, true), 0.5);
  // Off (the default): every unknown word is <oov>.
  const off = buildVocabulary(train, 2);
  assert.equal(off.oovPrefix, 0);
  assert.deepEqual([...encode(['boredom', 'charmless'], off)], [OOV_ID, OOV_ID]);
  assert.deepEqual([...encodeBackoff(['boring'], off)], [OOV_ID]);
});

test('length batches: equal lengths inside a batch, every index once, seeded shuffle', () => {
  const lengths = [3, 1, 3, 2, 3, 1, 3, 3, 2];
  const batches = lengthBatches(lengths, 2, createRng(1));
  assert.deepEqual(batches.flat().sort((a, b) => a - b), lengths.map((_, i) => i));
  for (const b of batches) {
    assert.ok(b.length <= 2);
    assert.ok(b.every((i) => lengths[i] === lengths[b[0]]));
  }
  assert.deepEqual(lengthBatches(lengths, 2, createRng(1)), batches);
  assert.deepEqual(lengthBatches(lengths, 10), [[1, 5], [3, 8], [0, 2, 4, 6, 7]]);
});

test('typed text reaches the model in the corpus tokens: punctuation and clitics split, the corpus itself unchanged', () => {
  assert.deepEqual(tokenizeText("Gorgeous, isn't it?"), ['gorgeous', ',', 'is', "n't", 'it', '?']);
  assert.deepEqual(tokenizeText('I can\u2019t believe it\'s great!!'), ['i', 'ca', "n't", 'believe', 'it', "'s", 'great', '!!']);
  assert.deepEqual(tokenizeText('\u201cA bug-eyed monster\u201d (really)... 2,500 times.'), ['``', 'a', 'bug', 'eyed', 'monster', "''", 'really', '2,500', 'times']);
  assert.deepEqual(tokenizeText('  '), []);
  // Every shipped sentence is already in that form: tokenizeText leaves it as the training data has it.
  let checked = 0;
  for (const split of ['train', 'dev', 'test']) {
    for (const line of readFileSync(path.join(ROOT, 'data', 'sst2', `${split}.tsv`), 'utf8').split('\n').filter(Boolean)) {
      const sentence = line.split('\t')[0];
      assert.deepEqual(tokenizeText(sentence), tokenize(sentence), sentence);
      checked++;
    }
  }
  assert.equal(checked, 6920 + 872 + 1821);
});
