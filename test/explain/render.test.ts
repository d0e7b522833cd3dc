import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { camOverlay, dimOutside, figureSvg, renderFigure, type Panel, shapleyCellText, shapleyOverlay, xmlEscape, formatValue } from '../../src/explain/render.js';

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

test('pixels the model did not see (NaN map value, patch -1) are pale grey, unlike any map colour; dimOutside greys only outside', () => {
  const img = { data: Uint8Array.from([255, 0, 0, 0, 0, 255, 0, 255, 0]), width: 3, height: 1 };
  const cam = camOverlay(img, Float32Array.from([NaN, 0, 1]));
  const unseen = Array.from(cam.data.slice(0, 3));
  assert.ok(unseen[0] === unseen[1] && unseen[1] === unseen[2] && unseen[0] >= 150 && unseen[0] <= 240, `pale grey: ${unseen}`);
  const zero = Array.from(cam.data.slice(3, 6));
  assert.ok(Math.max(...zero) - Math.min(...zero) > 40, `turbo(0) blended is coloured, not grey: ${zero}`);
  const sh = shapleyOverlay(img, [1], Int32Array.from([-1, 0, 0]), 1);
  assert.deepEqual(Array.from(sh.data.slice(0, 3)), unseen, 'the same grey for a patch the model did not see');
  const dim = dimOutside(img, { x: 1, y: 0, width: 2, height: 1 });
  assert.deepEqual(Array.from(dim.data.slice(0, 3)), unseen);
  assert.deepEqual(Array.from(dim.data.slice(3)), Array.from(img.data.slice(3)), 'inside untouched');
});

test('a panel with a window gets the hatching outside it, the dashed outline and one legend; grid lines at the given boundaries', async () => {
  const panel: Panel = { image: grey(60, 40), caption: 'map', grid: { rows: 1, cols: 2, xs: [10, 30, 50], ys: [5, 35] }, cellText: ['1', '2'] };
  const plain = await figureSvg([panel], 't');
  assert.ok(!plain.includes('url(#unseen)') && !plain.includes('not seen by the model'), 'no window, no hatching');
  const svg = await figureSvg([{ ...panel, window: { left: 10, top: 5, width: 40, height: 30 } }, { ...panel, window: { left: 10, top: 5, width: 40, height: 30 } }], 't');
  assert.equal(svg.split('not seen by the model').length - 1, 1, 'one legend for all panels');
  assert.equal(svg.split('fill-rule="evenodd"').length - 1, 2, 'each panel hatched outside its window');
  // Panel 1 at x = 14, y = 32 (title), 6.5 SVG units per pixel (shorter side 40 -> 260): the window is 65..325 x 64.5..259.5.
  const s = 260 / 40;
  assert.ok(svg.includes(`M${14 + 10 * s},${32 + 5 * s}H${14 + 50 * s}V${32 + 35 * s}H${14 + 10 * s}Z`), 'the window cut out of the hatching');
  assert.ok(svg.includes(`stroke-dasharray`) && svg.includes(`<rect x="${14 + 10 * s}" y="${32 + 5 * s}" width="${40 * s}" height="${30 * s}" fill="none" stroke="#111"`), 'the dashed outline');
  // The grid: one inner line at x = 30 px, from y = 5 to 35 px; the cell text at the cells' centres.
  assert.ok(plain.includes(`<line x1="${14 + 30 * s}" x2="${14 + 30 * s}" y1="${32 + 5 * s}" y2="${32 + 35 * s}"`), 'grid line at the given boundary');
  assert.ok(plain.includes(`<text x="${14 + 20 * s}"`) && plain.includes(`<text x="${14 + 40 * s}"`), 'cell text centred in its cell');
  const png = await sharp(await renderFigure([{ ...panel, window: { left: 10, top: 5, width: 40, height: 30 } }], 't')).metadata();
  assert.equal(png.format, 'png');
});
