/**
 * Maps over the whole original image (--overlay full|crop) and raw maps at its resolution
 * (--raw png16|csv|none): the inverse of the resize and centre crop checked against the real
 * preprocessing (a blob in the photo, found by the model's input, mapped back to where it was),
 * crop rectangles of landscape and portrait photos, patch boundaries, the 16-bit PNG round trip
 * (all five PNG filters), and the commands end to end on a tiny model with ImageNet preprocessing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { saveModel } from '../../src/core/model_io.js';
import { InputError, UsageError } from '../../src/core/errors.js';
import { upsampleBilinear } from '../../src/explain/base.js';
import { patchIndexMap } from '../../src/explain/image_game.js';
import { coveredPixels, gridOnImage, mapOnImage, patchesOnImage } from '../../src/explain/original_view.js';
import { decodeRawMap, encodeRawMap, pngChunk, rawMapCsv, readRawMap } from '../../src/explain/raw_map.js';
import { resolveOutputSettings } from '../../src/explain/output_options.js';
import { runExplainers, type ExplainOptions } from '../../src/explain/run.js';
import { preprocessImagenet, preprocessPlain, resizeCropWindow, windowOn } from '../../src/models/preprocess.js';
import { lastJson, runCli, tempDir } from '../helpers.js';

let work: string;
let imagenetModel: string; // [224, 224, 3] conv(8x8 stride 8) -> GAP -> dense(4), ImageNet preprocessing
let landscape: string; // 451 x 300, as chelsea.png
let portrait: string; // 300 x 451

/** A photo-like test image: smooth colour ramps (no flat areas), width x height. */
function ramps(width: number, height: number): Buffer {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      px[p] = (x * 255) / width;
      px[p + 1] = (y * 255) / height;
      px[p + 2] = 128 + 100 * Math.sin((x + y) / 9);
    }
  }
  return px;
}

before(async () => {
  await initBackend();
  work = mkdtempSync(path.join(tmpdir(), 'dnnkit-overlay-'));
  const x = tf.input({ shape: [224, 224, 3] });
  const init = (seed: number) => tf.initializers.glorotNormal({ seed });
  const f = tf.layers.conv2d({ filters: 3, kernelSize: 8, strides: 8, activation: 'relu', name: 'feat', kernelInitializer: init(1) }).apply(x) as tf.SymbolicTensor;
  const g = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(f) as tf.SymbolicTensor;
  const y = tf.layers.dense({ units: 4, name: 'fc', kernelInitializer: init(2) }).apply(g) as tf.SymbolicTensor;
  const model = tf.model({ inputs: x, outputs: y });
  model.setUserDefinedMetadata({ dnnkit: { preprocessing: 'imagenet', outputsLogits: true } });
  imagenetModel = path.join(work, 'inet');
  await saveModel(model, imagenetModel);
  model.dispose();
  landscape = path.join(work, 'landscape.png');
  portrait = path.join(work, 'portrait.png');
  await sharp(ramps(451, 300), { raw: { width: 451, height: 300, channels: 3 } }).png().toFile(landscape);
  await sharp(ramps(300, 451), { raw: { width: 300, height: 451, channels: 3 } }).png().toFile(portrait);
});

after(() => rmSync(work, { recursive: true, force: true }));

/** A white Gaussian blob centred at the point (cx, cy) on black, as a PNG file. */
async function blobPng(file: string, width: number, height: number, cx: number, cy: number, sigma = 5): Promise<void> {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = Math.round(255 * Math.exp(-((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2) / (2 * sigma * sigma)));
      px.fill(v, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  await sharp(px, { raw: { width, height, channels: 3 } }).png().toFile(file);
}

/** The intensity-weighted centre (in continuous pixel coordinates) of a map, NaN ignored. */
function centroid(map: ArrayLike<number>, width: number): { x: number; y: number } {
  let s = 0, sx = 0, sy = 0;
  for (let p = 0; p < map.length; p++) {
    const v = map[p];
    if (Number.isNaN(v)) continue;
    s += v;
    sx += v * ((p % width) + 0.5);
    sy += v * (Math.floor(p / width) + 0.5);
  }
  return { x: sx / s, y: sy / s };
}

test('the inverse of resize + centre crop: a blob the model sees lands back where it is in the photo (landscape, portrait, upscaled, resize-only)', async (t) => {
  const dir = tempDir(t);
  // (width, height, blob centre): off-centre blobs, a photo smaller than 256 (upscaled), and one at the crop's edge region.
  const cases: [number, number, number, number][] = [[451, 300, 180.3, 120.7], [300, 451, 121.2, 300.6], [200, 150, 70.4, 90.9], [640, 256, 400.5, 60.2]];
  for (const [w, h, cx, cy] of cases) {
    const file = path.join(dir, `blob-${w}x${h}.png`);
    await blobPng(file, w, h, cx, cy);
    const { input, display, view } = await preprocessImagenet(file);
    input.dispose();
    // The display's red channel as a map over the input, put back on the original.
    const map = Float32Array.from({ length: display.width * display.height }, (_, p) => display.data[p * 3]);
    const original = await view.original();
    assert.deepEqual([original.width, original.height], [w, h]);
    const back = mapOnImage(map, display.width, display.height, windowOn(view, original), original);
    const c = centroid(back, w);
    t.diagnostic(`${w}x${h}: blob at (${cx}, ${cy}), mapped back to (${c.x.toFixed(2)}, ${c.y.toFixed(2)})`);
    assert.ok(Math.abs(c.x - cx) < 0.1 && Math.abs(c.y - cy) < 0.1, `${w}x${h}: blob at (${cx}, ${cy}) came back at (${c.x}, ${c.y})`);
  }
  // A model that only resizes (28 x 28 input, as MNIST): the window is the whole photo (shrunk), or
  // the whole photo up to half an input pixel (enlarged, libvips's shift).
  for (const [w, h, cx, cy, sigma] of [[140, 84, 50.5, 30.5, 5], [20, 16, 9.3, 8.1, 1.5]]) {
    const file = path.join(dir, `digit-${w}.png`);
    await blobPng(file, w, h, cx, cy, sigma);
    const plain = await preprocessPlain(file, [28, 28, 1]);
    plain.input.dispose();
    if (w > 28) assert.deepEqual(plain.view.window, { left: 0, top: 0, width: w, height: h });
    else assert.deepEqual(coveredPixels(plain.view.window, { width: w, height: h }), { x: 0, y: 0, width: w, height: h });
    const map = Float32Array.from({ length: 28 * 28 }, (_, p) => plain.display.data[p * 3]);
    const c = centroid(mapOnImage(map, 28, 28, plain.view.window, { width: w, height: h }), w);
    t.diagnostic(`resize only ${w}x${h}: blob at (${cx}, ${cy}), mapped back to (${c.x.toFixed(2)}, ${c.y.toFixed(2)})`);
    assert.ok(Math.abs(c.x - cx) < 0.15 && Math.abs(c.y - cy) < 0.15, `resize only ${w}x${h}: (${c.x}, ${c.y})`);
  }
});

test('crop rectangles: centred, the crop side scaled back, portrait = landscape transposed; a one-hot map lands on one pixel', () => {
  const l = resizeCropWindow(451, 300);
  const lr = coveredPixels(l, { width: 451, height: 300 });
  const p = resizeCropWindow(300, 451);
  const pr = coveredPixels(p, { width: 300, height: 451 });
  assert.deepEqual([pr.x, pr.y, pr.width, pr.height], [lr.y, lr.x, lr.height, lr.width], 'portrait = landscape transposed');
  // 451 x 300 -> Resize(256) gives 384 x 256 (truncated), CenterCrop(224) starts at (80, 16).
  assert.ok(Math.abs(l.left - 80 * 451 / 384) < 1e-9 && Math.abs(l.top - 16 * 300 / 256) < 1e-9);
  assert.ok(Math.abs(l.width - 224 * 451 / 384) < 1e-9 && Math.abs(l.height - 224 * 300 / 256) < 1e-9);
  for (const r of [lr]) {
    assert.ok(Math.abs(r.x + r.width / 2 - 451 / 2) <= 1 && Math.abs(r.y + r.height / 2 - 300 / 2) <= 1, 'centred');
    assert.ok(Math.abs(r.width - l.width) < 1 && Math.abs(r.height - l.height) < 1, 'the crop is 224 resized pixels wide');
  }
  // A square photo of 256: no resize, the crop is 224 pixels at (16, 16), pixel for pixel.
  const sq = resizeCropWindow(256, 256);
  assert.deepEqual(coveredPixels(sq, { width: 256, height: 256 }), { x: 16, y: 16, width: 224, height: 224 });
  const oneHot = new Float32Array(224 * 224);
  oneHot[100 * 224 + 37] = 1;
  const back = mapOnImage(oneHot, 224, 224, sq, { width: 256, height: 256 });
  for (let q = 0; q < back.length; q++) {
    const expected = q === (16 + 100) * 256 + 16 + 37 ? 1 : (Math.floor(q / 256) < 16 || Math.floor(q / 256) >= 240 || q % 256 < 16 || q % 256 >= 240) ? NaN : 0;
    if (Number.isNaN(expected)) assert.ok(Number.isNaN(back[q]), `pixel ${q} is outside the crop`);
    else assert.ok(Math.abs(back[q] - expected) < 1e-6, `pixel (${q % 256}, ${Math.floor(q / 256)}): ${back[q]}`);
  }
});

test('on the model input itself the resampling is upsampleBilinear (the crop view is unchanged); smaller originals average', () => {
  const cam = Float32Array.from({ length: 7 * 7 }, (_, i) => ((i * 37) % 11) / 10);
  const ours = mapOnImage(cam, 7, 7, { left: 0, top: 0, width: 224, height: 224 }, { width: 224, height: 224 });
  const tfUp = upsampleBilinear(cam, 7, 7, 224, 224);
  let d = 0;
  ours.forEach((v, i) => (d = Math.max(d, Math.abs(v - tfUp[i]))));
  assert.ok(d < 1e-5, `max |ours - tf resizeBilinear| = ${d}`);
  // A 4 x 4 checkerboard onto 2 x 2 pixels: each pixel averages its 2 x 2 cells (0.5), not one sample.
  const checker = Float32Array.from({ length: 16 }, (_, i) => ((i % 4) + Math.floor(i / 4)) % 2);
  assert.deepEqual(Array.from(mapOnImage(checker, 4, 4, { left: 0, top: 0, width: 2, height: 2 }, { width: 2, height: 2 })), [0.5, 0.5, 0.5, 0.5]);
});

test('patch boundaries on the original: every pixel lies between the grid lines of its patch (3x5 grid on a 28-pixel input, fractional window)', () => {
  const grid = { rows: 3, cols: 5 };
  const input = { width: 28, height: 28 };
  const win = { left: 10.37, top: 4.71, width: 61.63, height: 58.13 }; // no pixel centre exactly on a line
  const size = { width: 80, height: 70 };
  const patches = patchesOnImage(grid, input, win, size);
  const { xs, ys } = gridOnImage(grid, input, win);
  const rect = coveredPixels(win, size);
  let seen = 0;
  for (let y = 0; y < size.height; y++) {
    for (let x = 0; x < size.width; x++) {
      const k = patches[y * size.width + x];
      const inside = x >= rect.x && x < rect.x + rect.width && y >= rect.y && y < rect.y + rect.height;
      assert.equal(k >= 0, inside, `(${x}, ${y})`);
      if (k < 0) continue;
      seen |= 1 << k;
      const r = Math.floor(k / grid.cols);
      const c = k % grid.cols;
      assert.ok(xs[c] <= x + 0.5 && x + 0.5 < xs[c + 1] && ys[r] <= y + 0.5 && y + 0.5 < ys[r + 1], `(${x}, ${y}) in patch ${k} lies outside its lines`);
    }
  }
  assert.equal(seen, (1 << 15) - 1, 'every patch shows');
  // On the input itself the lines are where patchIndexMap changes patch (ceil(c W / C), not floor).
  const { xs: ix } = gridOnImage(grid, input, { left: 0, top: 0, width: 28, height: 28 });
  const idx = patchIndexMap(grid, 28, 28);
  for (let c = 1; c < grid.cols; c++) assert.ok(idx[ix[c]] % grid.cols === c && idx[ix[c] - 1] % grid.cols === c - 1, `line ${c} at x = ${ix[c]}`);
});

/** Re-encodes a raw map PNG's IDAT with filter type `filter(y)` per row (PNG spec sec. 9). */
function refilter(png: Buffer, filter: (y: number) => number): Buffer {
  const chunks: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < png.length;) {
    const n = png.readUInt32BE(at);
    chunks.push({ type: png.toString('latin1', at + 4, at + 8), data: png.subarray(at + 8, at + 8 + n) });
    at += 12 + n;
  }
  const ihdr = chunks.find((c) => c.type === 'IHDR')!.data;
  const [w, h] = [ihdr.readUInt32BE(0), ihdr.readUInt32BE(4)];
  const raw = inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  const stride = 2 * w;
  const rows: Buffer[] = [];
  for (let y = 0; y < h; y++) { // undo the encoder's None/Up
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    rows.push(Buffer.from(src.map((b, i) => (raw[y * (stride + 1)] === 2 ? (b + rows[y - 1][i]) & 0xff : b))));
  }
  const out = Buffer.alloc((stride + 1) * h);
  const paeth = (a: number, b: number, c: number) => {
    const p = a + b - c;
    const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
  };
  for (let y = 0; y < h; y++) {
    const f = filter(y);
    out[y * (stride + 1)] = f;
    for (let i = 0; i < stride; i++) {
      const a = i >= 2 ? rows[y][i - 2] : 0;
      const b = y > 0 ? rows[y - 1][i] : 0;
      const c = y > 0 && i >= 2 ? rows[y - 1][i - 2] : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][f];
      out[y * (stride + 1) + 1 + i] = (rows[y][i] - pred) & 0xff;
    }
  }
  const firstIdat = chunks.findIndex((c) => c.type === 'IDAT');
  const kept = chunks.flatMap((c, k) => (c.type !== 'IDAT' ? [pngChunk(c.type, c.data)] : k === firstIdat ? [pngChunk('IDAT', deflateSync(out))] : []));
  return Buffer.concat([png.subarray(0, 8), ...kept]);
}

test('16-bit raw map round trip: within half a step of (max - min) / 65535, NaN outside the covered rectangle, any PNG filter, read by sharp as 16-bit grey', async () => {
  const [w, h] = [37, 23];
  const covered = { x: 3, y: 2, width: 30, height: 19 };
  const values = new Float32Array(w * h).fill(NaN);
  for (let y = covered.y; y < covered.y + covered.height; y++) {
    for (let x = covered.x; x < covered.x + covered.width; x++) values[y * w + x] = Math.sin(x * 0.7) * Math.cos(y * 0.3) * 0.02 - 0.004;
  }
  const description = { values: 'test', method: 'ig', model: 'm', image: 'café', classIndex: 3, label: 'tabby, tabby cat' };
  const png = encodeRawMap(values, w, h, covered, description);
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.width, meta.height, meta.depth, meta.channels], [w, h, 'ushort', 1], 'a 16-bit greyscale PNG any reader opens');
  for (const variant of [png, refilter(png, (y) => y % 5)]) {
    const { values: back, info } = decodeRawMap(variant);
    assert.deepEqual(info.covered, covered);
    assert.equal(info.image, 'café', 'non-ASCII metadata survives the Latin-1 text chunk');
    const step = (info.max - info.min) / 65535;
    let worst = 0;
    values.forEach((v, i) => {
      if (Number.isNaN(v)) assert.ok(Number.isNaN(back[i]), `pixel ${i} is outside`);
      else worst = Math.max(worst, Math.abs(back[i] - v));
    });
    assert.ok(worst <= step / 2 + 1e-12, `worst error ${worst} > half a step ${step / 2}`);
    assert.ok(info.min <= -0.024 + 1e-3 && info.max >= 0.016 - 1e-3, `range [${info.min}, ${info.max}]`);
  }
  // The CSV: the same values to 7 digits, empty cells outside.
  const csv = rawMapCsv(values, w, h).trim().split('\n');
  assert.equal(csv.length, 1 + h);
  const row5 = csv[1 + 5].split(',');
  assert.equal(row5[0], '');
  assert.ok(Math.abs(Number(row5[10]) - values[5 * w + 10]) < 1e-9);
  // Not a raw map: one line that says what is wrong.
  const eight = await sharp(Buffer.alloc(12), { raw: { width: 2, height: 2, channels: 3 } }).png().toBuffer();
  assert.throws(() => decodeRawMap(eight, 'x.png'), (e: Error) => e instanceof InputError && /x\.png is not a 16-bit greyscale/.test(e.message) && !e.message.includes('\n'));
  const noText = Buffer.concat([png.subarray(0, 33), png.subarray(33 + 12 + png.readUInt32BE(33))]); // the tEXt chunk cut out
  assert.throws(() => decodeRawMap(noText, 'y.png'), /y\.png has no 'dnnkit-raw-map' text chunk/);
});

test('--overlay and --raw: bad values are one-line usage errors naming the flag', async () => {
  assert.deepEqual(resolveOutputSettings({}), { overlay: 'full', raw: 'png16' });
  assert.throws(() => resolveOutputSettings({ overlay: 'whole' }), (e: Error) => e instanceof UsageError && /^--overlay whole: use full or crop/.test(e.message));
  assert.throws(() => resolveOutputSettings({ raw: 'npy' }), (e: Error) => e instanceof UsageError && /^--raw npy: use png16, csv or none/.test(e.message));
  for (const [flag, value] of [['--overlay', 'whole'], ['--raw', 'npy']]) {
    const r = await runCli(['gradcam', flag, value, landscape, '--model', imagenetModel, '--out', path.join(work, 'never')]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${flag}.*'${value}'.*use `));
    assert.ok(!existsSync(path.join(work, 'never')), 'nothing written');
  }
});

test('gradcam: the default overlay is the whole photo (its size), --overlay crop the model input; raw maps at the photo\'s resolution', async (t) => {
  const out = tempDir(t);
  const opts = (extra: Partial<ExplainOptions>) => ({ out, seed: 1, json: true, debug: false, model: imagenetModel, ...extra }) as ExplainOptions;
  for (const [file, w, h] of [[landscape, 451, 300], [portrait, 300, 451]] as const) {
    const full = await runExplainers(['gradcam'], opts({}), [file], 'separate') as { images: Record<string, unknown>[]; settings: Record<string, unknown> };
    const img = full.images[0];
    assert.equal(img.overlaySize, `${w}x${h}`);
    assert.deepEqual([full.settings.overlay, full.settings.raw], ['full', 'png16'], 'run.json records the output settings');
    const { values, info } = await readRawMap(img.rawPng as string);
    assert.deepEqual([info.width, info.height, values.length], [w, h, w * h]);
    const cover = coveredPixels(resizeCropWindow(w, h), { width: w, height: h });
    assert.deepEqual(info.covered, cover);
    assert.ok(values.every((v, p) => Number.isNaN(v) === !(p % w >= cover.x && p % w < cover.x + cover.width && Math.floor(p / w) >= cover.y && Math.floor(p / w) < cover.y + cover.height)));
    assert.ok(Math.max(...values.filter((v) => !Number.isNaN(v))) > 0.99, 'a CAM scaled to [0, 1] reaches 1');
    const figure = await sharp(img.overlayPng as string).metadata();
    const crop = await runExplainers(['gradcam'], opts({ overlay: 'crop', raw: 'csv' }), [file], 'separate') as { images: Record<string, unknown>[] };
    assert.equal(crop.images[0].overlaySize, '224x224', 'crop: today\'s view, the model input');
    const csv = readFileSync(crop.images[0].rawCsv as string, 'utf8').trim().split('\n');
    assert.deepEqual([csv.length - 1, csv[1].split(',').length], [h, w], 'the raw CSV is at the photo\'s resolution in both views');
    const cropFigure = await sharp(crop.images[0].overlayPng as string).metadata();
    // Landscape: the full view is wider than the square crop view; portrait: taller.
    if (w > h) assert.ok(figure.width! > cropFigure.width! + 100, `${figure.width} vs ${cropFigure.width}`);
    else assert.ok(figure.height! > cropFigure.height! + 100, `${figure.height} vs ${cropFigure.height}`);
  }
  // A panorama is drawn around the crop (at most 3:1); its raw map is still the whole strip.
  const pano = path.join(work, 'pano.png');
  await sharp(ramps(1000, 100), { raw: { width: 1000, height: 100, channels: 3 } }).png().toFile(pano);
  const p = (await runExplainers(['gradcam'], opts({}), [pano], 'separate') as { images: Record<string, unknown>[] }).images[0];
  assert.equal(p.overlaySize, '300x100');
  const rawPano = await readRawMap(p.rawPng as string);
  assert.deepEqual([rawPano.info.width, rawPano.info.height], [1000, 100]);
  assert.deepEqual(rawPano.info.covered, coveredPixels(resizeCropWindow(1000, 100), { width: 1000, height: 100 }));
  const none = await runExplainers(['shap'], opts({ raw: 'none', grid: '2x2', samples: 2 }), [landscape], 'separate') as { images: Record<string, unknown>[] };
  assert.ok(!('rawPng' in none.images[0]) && !('rawCsv' in none.images[0]), '--raw none writes no raw map');
  assert.equal(none.images[0].overlaySize, '451x300');
});

test('CLI: shap, ig and explain over the whole photo; the raw maps decode to the method\'s values', async (t) => {
  const out = tempDir(t);
  const shap = await runCli(['shap', landscape, '--model', imagenetModel, '--grid', '2x3', '--exact', '--out', out, '--json']);
  assert.equal(shap.code, 0, shap.stderr);
  const s = (lastJson(shap).images as Record<string, unknown>[])[0];
  const phi = s.phi as number[];
  const { values, info } = await readRawMap(s.rawPng as string);
  // Every covered pixel holds the phi of one patch (within a quantisation step), and each patch shows.
  const step = (info.max - info.min) / 65535;
  const shown = new Set<number>();
  values.forEach((v) => {
    if (Number.isNaN(v)) return;
    const k = phi.findIndex((f) => Math.abs(f - v) <= step);
    assert.ok(k >= 0, `value ${v} is no patch's phi`);
    shown.add(k);
  });
  assert.equal(shown.size, 6);
  // Integrated Gradients writes its files through the library (no command runs it alone).
  const ig = await runExplainers(['ig'], { out: path.join(out, 'lib'), seed: 1, json: true, debug: false, model: imagenetModel, igSteps: 4, raw: 'csv' } as ExplainOptions, [portrait], 'separate') as { images: Record<string, unknown>[] };
  const g = ig.images[0];
  assert.equal(g.overlaySize, '300x451');
  const rows = readFileSync(g.rawCsv as string, 'utf8').trim().split('\n');
  assert.deepEqual([rows.length - 1, rows[1].split(',').length], [451, 300]);
  const ex = await runCli(['explain', '--methods', 'gradcam,gradinput', landscape, '--model', imagenetModel, '--out', out, '--json']);
  assert.equal(ex.code, 0, ex.stderr);
  const e = lastJson(ex);
  assert.equal((e.settings as Record<string, unknown>).overlay, 'full');
  assert.ok(!('raw' in (e.settings as object)), 'explain writes its figure only: no --raw');
  const fig = await sharp((e.images as Record<string, string>[])[0].figurePng).metadata();
  assert.ok(fig.width! > 3 * 300, `three panels over the whole photo: ${fig.width}`);
  const crop = await runCli(['explain', '--methods', 'gradcam', landscape, '--model', imagenetModel, '--out', path.join(out, 'c'), '--overlay', 'crop', '--json']);
  assert.equal(crop.code, 0, crop.stderr);
  const cropFig = await sharp((lastJson(crop).images as Record<string, string>[])[0].figurePng).metadata();
  assert.ok(cropFig.height! < fig.height!, 'no legend for hatching in the crop view');
});

test('every pixel method (gradient, SmoothGrad over each base, RISE, IG, Gradient x Input) draws over the whole photo and writes its raw map at the photo\'s size', async (t) => {
  const out = tempDir(t);
  const base = { out, seed: 1, json: true, debug: false, model: imagenetModel, igSteps: 2, smoothSamples: 2, masks: 8, batch: 8 };
  const runs: [string, Partial<ExplainOptions>][] = [
    ['saliency', {}], ['rise', {}], ['ig', {}], ['gradinput', {}],
    ...(['saliency', 'gradinput', 'ig'] as const).map((b): [string, Partial<ExplainOptions>] => ['smoothgrad', { smoothBase: b } as Partial<ExplainOptions>]),
  ];
  for (const [method, extra] of runs) {
    const r = await runExplainers([method as never], { ...base, ...extra } as ExplainOptions, [landscape], 'separate');
    const img = r.images[0];
    assert.equal(img.overlaySize, '451x300', `${method} ${JSON.stringify(extra)}: overlay over the whole photo`);
    const { info } = await readRawMap(img.rawPng as string);
    assert.deepEqual([info.width, info.height], [451, 300], `${method}: raw map at the photo's size`);
    const meta = await sharp(img.attributionPng as string).metadata();
    assert.ok((meta.width ?? 0) > 451, `${method}: a figure was drawn`);
  }
});
