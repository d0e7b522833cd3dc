import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { camOverlay, renderFigure, shapleyCellText, shapleyOverlay, xmlEscape, formatValue } from '../../src/explain/render.js';

const grey = (w: number, h: number, v = 128) => ({ data: new Uint8Array(w * h * 3).fill(v), width: w, height: h });

test('Grad-CAM overlay: turbo from dark (0) to dark red (1), blended; image not mutated', () => {
  const img = grey(2, 1);
  const out = camOverlay(img, Float32Array.from([0, 1]), 1);
  const [r0, g0, b0, r1, g1, b1] = out.data;
  assert.ok(r0 + g0 + b0 < 250, `turbo(0) is dark: ${[r0, g0, b0]}`);
  assert.ok(r1 > 100 && r1 > 2 * b1 && r1 > g1, `turbo(1) is red: ${[r1, g1, b1]}`);
  assert.deepEqual(Array.from(img.data), new Array(6).fill(128));
  const half = camOverlay(img, Float32Array.from([0, 1]), 0);
  assert.deepEqual(Array.from(half.data), new Array(6).fill(128), 'alpha 0 = the image');
});

test('Shapley overlay: positive red, negative blue, zero white-grey; shared decimals in cells', () => {
  const img = grey(3, 1, 200);
  const out = shapleyOverlay(img, [2, -2, 0], Int32Array.from([0, 1, 2]), 2, 1);
  const px = (i: number) => Array.from(out.data.slice(i * 3, i * 3 + 3));
  const [pos, neg, zero] = [px(0), px(1), px(2)];
  assert.ok(pos[0] > 2 * pos[2] && pos[0] > pos[1], `positive is red: ${pos}`);
  assert.ok(neg[2] > 2 * neg[0] && neg[2] > neg[1], `negative is blue: ${neg}`);
  assert.ok(Math.max(...zero) - Math.min(...zero) < 20 && zero[0] > 200, `zero is near white: ${zero}`);
  assert.deepEqual(shapleyCellText([0.0123, -0.004, 0.00001], { rows: 1, cols: 3 }), ['0.012', '-0.004', '0']);
  assert.equal(shapleyCellText(new Array(81).fill(1), { rows: 9, cols: 9 }), undefined, 'no text on large grids');
  assert.equal(formatValue(0.0089), '0.0089');
  assert.equal(formatValue(-1234.5), '-1235');
  assert.equal(xmlEscape(`jack-o'-lantern <a&b>`), 'jack-o&apos;-lantern &lt;a&amp;b&gt;');
});

test('figures render to PNG, wide enough for a long title, with every panel', async () => {
  const png = await renderFigure([
    { image: grey(28, 28), caption: 'input' },
    { image: grey(28, 28), caption: 'map', colourBar: { kind: 'diverging', min: -1, max: 1, label: 'phi' }, grid: { rows: 2, cols: 2 }, cellText: ['1', '-1', '0', '0.5'] },
  ], 'a title that is rather long, to check that the figure widens for it: tabby, tabby cat (class 281)', 'subtitle');
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png');
  assert.ok((meta.width ?? 0) >= 2 * 2 * 260, `width ${meta.width}`);
});
