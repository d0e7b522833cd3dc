/** Figures of token attributions: colours by sign, long sentences wrap inside the width, text escaped. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attributionColour, sentenceHtml, sentenceSvg } from '../../src/text_explain/render.js';

test('colours: white at 0, red for, blue against, clamped', () => {
  assert.equal(attributionColour(0), 'rgb(255,255,255)');
  assert.equal(attributionColour(1), 'rgb(178,24,43)');
  assert.equal(attributionColour(-1), 'rgb(33,102,172)');
  assert.equal(attributionColour(5), attributionColour(1));
  assert.equal(attributionColour(NaN), 'rgb(255,255,255)');
});

test('a 50-token sentence of long words wraps inside the figure; tokens and values are escaped', () => {
  const tokens = Array.from({ length: 50 }, (_, i) => (i === 3 ? '<b>&"' : `extraordinarily${i}`));
  const values = tokens.map((_, i) => Math.sin(i) * 1e-3);
  const svg = sentenceSvg({ title: 'dev-1: predicted positive', tokens, className: 'positive', blocks: [{ heading: 'Shapley', values, se: values.map(() => 1e-4) }, { heading: 'LOO', values }] });
  const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
  const rects = [...svg.matchAll(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="24"/g)].map((m) => [Number(m[1]), Number(m[2]), Number(m[3])]);
  assert.equal(rects.length, 100, 'a box per token per method');
  for (const [x, , w] of rects) assert.ok(x >= 0 && x + w <= width, `box ${x}+${w} inside ${width}`);
  assert.ok(new Set(rects.map((r) => r[1])).size >= 6, 'the tokens wrap onto several rows');
  const height = Number(/<svg[^>]* height="(\d+)"/.exec(svg)![1]);
  assert.ok(Math.max(...rects.map((r) => r[1])) + 24 < height, 'the last row is inside the figure');
  assert.match(svg, /&lt;b&gt;&amp;&quot;/);
  assert.doesNotMatch(svg, /<b>/);
  assert.match(sentenceHtml({ title: 't', tokens, className: 'positive', blocks: [{ heading: 'h', values }] }), /&lt;b&gt;/);
});
