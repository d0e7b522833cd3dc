/**
 * Bad (and odd but valid) input files for the robustness suite, generated at test time into a
 * temporary folder: images made with sharp, a tiny tfjs image classifier, broken model folders,
 * CSV and IDX files. Nothing here is committed as a binary.
 */
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { saveModel } from '../../src/core/model_io.js';
import { listFiles, type CliResult } from '../helpers.js';

/** Deterministic noise pixels, [h, w, c] bytes. */
export function noise(w: number, h: number, c: number, seed = 0): Buffer {
  return Buffer.from(Array.from({ length: w * h * c }, (_, i) => (i * 97 + ((i + seed) % 7) * 31 + seed) % 256));
}

export interface ImageFixtures {
  rgbPng: string;
  grayPng: string;
  rgbaPng: string;
  png16: string;
  cmykJpg: string;
  onePx: string;
  textPng: string;
  emptyPng: string;
  truncPng: string;
  truncJpg: string;
  dirPng: string;
  missing: string;
}

/** Writes the image fixtures into `dir`. */
export async function makeImages(dir: string): Promise<ImageFixtures> {
  const f = (name: string) => path.join(dir, name);
  const rgb = () => sharp(noise(40, 30, 3), { raw: { width: 40, height: 30, channels: 3 } });
  const fx: ImageFixtures = {
    rgbPng: f('rgb.png'), grayPng: f('gray.png'), rgbaPng: f('rgba.png'), png16: f('deep16.png'), cmykJpg: f('cmyk.jpg'),
    onePx: f('one.png'), textPng: f('notes.png'), emptyPng: f('empty.png'), truncPng: f('trunc.png'), truncJpg: f('trunc.jpg'),
    dirPng: f('folder.png'), missing: f('nope.png'),
  };
  await rgb().png().toFile(fx.rgbPng);
  await sharp(noise(24, 24, 1, 3), { raw: { width: 24, height: 24, channels: 1 } }).toColourspace('b-w').png().toFile(fx.grayPng);
  await sharp(noise(20, 20, 4, 5), { raw: { width: 20, height: 20, channels: 4 } }).png().toFile(fx.rgbaPng);
  await rgb().toColourspace('rgb16').png().toFile(fx.png16);
  await rgb().toColourspace('cmyk').jpeg({ quality: 90 }).toFile(fx.cmykJpg);
  await sharp(Buffer.from([200, 30, 60]), { raw: { width: 1, height: 1, channels: 3 } }).png().toFile(fx.onePx);
  writeFileSync(fx.textPng, 'this is a text file, not a PNG\n');
  writeFileSync(fx.emptyPng, '');
  const png = await sharp(noise(64, 64, 3, 1), { raw: { width: 64, height: 64, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  writeFileSync(fx.truncPng, png.subarray(0, Math.floor(png.length / 2)));
  const jpg = await sharp(noise(64, 64, 3, 2), { raw: { width: 64, height: 64, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
  writeFileSync(fx.truncJpg, jpg.subarray(0, Math.floor(jpg.length / 2)));
  mkdirSync(fx.dirPng);
  return fx;
}

/** A 10,000 x 10,000 RGB PNG (a smooth gradient; a few MB on disk, 300 MB decoded). */
export async function makeHugePng(file: string, side = 10_000): Promise<string> {
  const tile = await sharp({ create: { width: side, height: side, channels: 3, background: { r: 90, g: 140, b: 200 } } })
    .png({ compressionLevel: 9 })
    .toBuffer();
  writeFileSync(file, tile);
  return file;
}

/**
 * A tiny RGB image classifier saved as a tfjs layers model folder: [16, 16, 3] -> conv(4, relu) ->
 * conv(4, relu, 'features') -> flatten -> dense(3, softmax). Seeded, so the saved weights are fixed.
 */
export async function makeTinyModel(dir: string): Promise<string> {
  const init = (seed: number) => tf.initializers.glorotNormal({ seed });
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [16, 16, 3], filters: 4, kernelSize: 3, activation: 'relu', name: 'conv1', kernelInitializer: init(1) }));
  m.add(tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, activation: 'relu', name: 'conv2', kernelInitializer: init(2) }));
  m.add(tf.layers.flatten({ name: 'flatten' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'dense', kernelInitializer: init(3) }));
  await saveModel(m, dir);
  m.dispose();
  return dir;
}

/** A copy of a model folder whose model.json names a weights file that is not there. */
export function modelWithoutWeights(src: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'model.json'), readFileSync(path.join(src, 'model.json')));
  return dir;
}

/** Asserts the CLI failed as a person should see it: exit code, one `dnnkit: error:` line matching `pattern`, no stack. */
export function assertCleanError(res: CliResult, code: 1 | 2, pattern: RegExp): void {
  const lines = res.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(res.code, code, `exit code ${res.code}, expected ${code}; stderr:\n${res.stderr}`);
  assert.doesNotMatch(res.stderr, /^\s+at /m, `no stack trace expected:\n${res.stderr}`);
  const errors = lines.filter((l) => l.startsWith('dnnkit: error: ') || l.startsWith('error: '));
  assert.equal(errors.length, 1, `one error line expected:\n${res.stderr}`);
  assert.equal(lines[lines.length - 1], errors[0], `the error is the last line:\n${res.stderr}`);
  assert.match(errors[0], /^dnnkit: error: /, `error line format:\n${res.stderr}`);
  assert.match(errors[0], pattern);
}

/** Nothing but (possibly) empty folders in `dir`. */
export function assertNothingWritten(dir: string, what: string): void {
  assert.deepEqual(listFiles(dir), [], `${what}: nothing written`);
}

/** A tiny model with MNIST's input shape ([28, 28, 1] -> flatten -> dense(10, softmax)), saved to `dir`. */
export async function makeTinyMnistModel(dir: string): Promise<string> {
  const m = tf.sequential();
  m.add(tf.layers.flatten({ inputShape: [28, 28, 1] }));
  m.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotNormal({ seed: 4 }) }));
  await saveModel(m, dir);
  m.dispose();
  return dir;
}
