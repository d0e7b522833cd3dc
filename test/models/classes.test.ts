/**
 * Classes by name (issue 14, item 4): index, label or WordNet synonym, any case; topK and lists;
 * an unknown name gets the three closest names; ambiguous names ask for the index.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/core/errors.js';
import { imagenetSynonyms, parseClassSelection, resolveClassIndex, resolveClassName, selectedClasses } from '../../src/models/classes.js';
import { imagenetClassNames } from '../../src/models/index.js';

const names = imagenetClassNames();
const usage = (re: RegExp) => (e: Error) => e instanceof UsageError && re.test(e.message) && !e.message.includes('\n');

test('the shipped synonym lists: 1000 classes in torchvision\'s order, with source and licence', async () => {
  const syn = imagenetSynonyms();
  assert.equal(syn.length, 1000);
  // The torchvision label is one of the synonyms, but for three classes torchvision renamed.
  const renamed = names.map((n, i) => (syn[i].some((s) => s.toLowerCase() === n.toLowerCase()) ? -1 : i)).filter((i) => i >= 0);
  assert.deepEqual(renamed, [107, 134, 639]); // jellyfish / jelly fish, crane bird / crane, maillot tank suit
  assert.deepEqual(syn[281], ['tabby', 'tabby cat']);
  const { readFileSync } = await import('node:fs');
  const doc = JSON.parse(readFileSync(new URL('../../../data/imagenet_synonyms.json', import.meta.url), 'utf8'));
  assert.match(doc.source, /@tensorflow-models\/mobilenet/);
  assert.match(doc.licence, /Apache-2\.0/);
});

test('one class: an index, a label, a synonym, any case and spacing', () => {
  assert.equal(resolveClassName('281', 1000, names), 281);
  assert.equal(resolveClassName('tabby', 1000, names), 281);
  assert.equal(resolveClassName('Tabby Cat', 1000, names), 281);
  assert.equal(resolveClassName('  tabby   cat ', 1000, names), 281);
  assert.equal(resolveClassName('Man-Eater', 1000, names), 2);
  assert.equal(resolveClassName('Carcharodon carcharias', 1000, names), 2);
  assert.equal(resolveClassName('coffee mug', 1000, names), 504);
  assert.equal(resolveClassName('crane', 1000, names), 517, 'a label wins over another class\'s synonym');
  assert.equal(resolveClassName('crane bird', 1000, names), 134);
  assert.throws(() => resolveClassName('1000', 1000, names), usage(/out of range: the model has 1000 classes \(0-999\)/));
  assert.throws(() => resolveClassName('panda', 1000, names), usage(/names 2 classes: 387 \(.*\), 388 \(.*\); give the index/));
  assert.throws(() => resolveClassName('cardigan', 1000, names), usage(/names 2 classes: 264 .*474/));
});

test('an unknown name gets the three closest names', () => {
  assert.throws(() => resolveClassName('tabby kat', 1000, names), (e: Error) => {
    assert.ok(e instanceof UsageError);
    const near = [...e.message.matchAll(/'([^']+)' \((\d+)\)/g)].map((m) => [m[1], Number(m[2])]);
    assert.equal(near.length, 3, e.message);
    assert.deepEqual(near[0], ['tabby cat', 281]);
    assert.match(e.message, /^unknown class 'tabby kat'; the closest names are .*; give a class index 0-999, a name, or topN$/);
    return true;
  });
  assert.throws(() => resolveClassName('tabb', 1000, names), /closest names are 'tabby' \(281\)/);
  // A model without names: only indices.
  assert.throws(() => resolveClassName('cat', 10), usage(/has no class names; give a class index 0-9 or topN/));
});

test('several classes: topK, comma lists (duplicates dropped), and what each image gets', () => {
  assert.deepEqual(parseClassSelection('top3', 1000, names), { top: 3 });
  assert.deepEqual(parseClassSelection('TOP-2', 10), { top: 2 });
  assert.deepEqual(parseClassSelection('281,285', 1000, names), { indices: [281, 285] });
  assert.deepEqual(parseClassSelection('tabby, tabby cat', 1000, names), { indices: [281] }, 'mobilenet\'s whole synonym string is one class');
  assert.deepEqual(parseClassSelection('Egyptian cat,281', 1000, names), { indices: [285, 281] });
  assert.equal(parseClassSelection(undefined, 10), undefined);
  assert.throws(() => parseClassSelection('top0', 10), usage(/1 <= K <= 10/));
  assert.throws(() => parseClassSelection('top11', 10), usage(/1 <= K <= 10/));
  assert.deepEqual(selectedClasses({ top: 2 }, [0.1, 0.5, 0.4]), [1, 2]);
  assert.deepEqual(selectedClasses(undefined, [0.1, 0.5, 0.4]), [1]);
  assert.deepEqual(selectedClasses({ indices: [0] }, [0.1, 0.5, 0.4]), [0]);
});

test('resolveClassIndex: the drop-in for one class per image', () => {
  assert.equal(resolveClassIndex(undefined, 1000, names), undefined);
  assert.equal(resolveClassIndex('top1', 1000, names), undefined);
  assert.equal(resolveClassIndex('tabby cat', 1000, names), 281);
  assert.equal(resolveClassIndex(3, 10), 3);
  assert.throws(() => resolveClassIndex('top2', 1000, names), usage(/one class per image/));
  assert.throws(() => resolveClassIndex('281,285', 1000, names), usage(/names 2 classes; this command explains one class per image/));
});
