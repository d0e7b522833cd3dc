/**
 * Image I/O at the edges, with sharp (libvips): decode any common format (PNG, JPEG, WebP, TIFF,
 * GIF; 8/16-bit, grayscale, CMYK, alpha) to 8-bit RGB, resize, encode PNG.
 */
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { assertReadableFile, writeFileAtomic } from './fsutil.js';
import { InputError } from './errors.js';
import { showPath } from './quote.js';

/** Decoded 8-bit RGB pixels, row-major [height, width, 3]. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Largest image dnnkit decodes (pixels); libvips streams, so this bounds memory, not speed. */
export const MAX_INPUT_PIXELS = 20_000 * 20_000;

/**
 * Largest image dnnkit resizes to (pixels; 50 MB of RGB). The input limit alone does not bound
 * memory: a 1 x 100,000 image resized so that its shorter side is 256 would be 256 x 25,600,000
 * (19.7 GB). With ImageNet's shorter side of 256 this allows aspect ratios up to 256:1.
 */
export const MAX_RESIZED_PIXELS = 1 << 24;

export interface LoadImageOptions {
  /** Resize so that the shorter side is this many pixels (aspect kept), as torchvision's Resize(int). */
  shorterSide?: number;
  /** Resize to exactly width x height (aspect not kept). */
  size?: { width: number; height: number };
}

/** Displayed size of an image (EXIF orientations 5-8 swap width and height). */
export interface ImageSize {
  width: number;
  height: number;
}

/**
 * Throws an InputError unless `file` is a readable, non-empty regular file; the path is quoted
 * when it holds control characters, so that the one-line message names it whole.
 */
export async function assertImageFile(file: string): Promise<void> {
  try {
    await assertReadableFile(file, 'image');
  } catch (err) {
    const shown = showPath(file);
    if (err instanceof InputError && shown !== file) throw new InputError(err.message.split(file).join(shown));
    throw err;
  }
}

/**
 * Reads an image file's header: its displayed size. A missing, empty or non-image file gets an
 * InputError that names it. Cheap (no pixels are decoded), so commands call it on every input
 * before any slow step.
 */
export async function readImageSize(file: string): Promise<ImageSize> {
  await assertImageFile(file);
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await sharp(file, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  } catch (err) {
    throw new InputError(`${showPath(file)} is not a readable image (${firstLine(err)}); give a PNG, JPEG, WebP, GIF or TIFF file`);
  }
  if (!meta.width || !meta.height) throw new InputError(`${showPath(file)}: the image has no size; is it corrupt?`);
  return (meta.orientation ?? 1) >= 5 ? { width: meta.height, height: meta.width } : { width: meta.width, height: meta.height };
}

/**
 * Throws an InputError when resizing an image of size `from` to `to` would exceed
 * MAX_RESIZED_PIXELS. Called before libvips allocates anything.
 */
export function assertResizable(file: string, from: ImageSize, to: ImageSize): void {
  if (to.width * to.height <= MAX_RESIZED_PIXELS) return;
  const ratio = Math.max(from.width, from.height) / Math.min(from.width, from.height);
  const fix = ratio >= 4 ? 'crop it to a less extreme aspect ratio first' : 'use a model with a smaller input';
  throw new InputError(`${showPath(file)} is ${from.width}x${from.height} pixels (aspect ratio ${ratio.toFixed(0)}:1); resizing it to ${to.width}x${to.height} `
    + `as the model's preprocessing asks would take ${((to.width * to.height * 3) / 1e9).toFixed(1)} GB: ${fix} (dnnkit resizes to at most ${(MAX_RESIZED_PIXELS / 1e6).toFixed(1)} M pixels)`);
}

/**
 * Decodes an image file to RGB. Alpha is composited on white, grayscale is expanded to RGB,
 * CMYK and 16-bit images are converted to 8-bit sRGB. A file that is not an image, or one whose
 * resized size would be too large (see MAX_RESIZED_PIXELS), gets an InputError that names it.
 */
export async function loadImage(file: string, opts: LoadImageOptions = {}): Promise<RgbImage> {
  const size = await readImageSize(file);
  let target: ImageSize | undefined = opts.size;
  if (!target && opts.shorterSide) {
    const s = opts.shorterSide;
    target = size.width <= size.height
      ? { width: s, height: Math.round((s * size.height) / size.width) }
      : { width: Math.round((s * size.width) / size.height), height: s };
  }
  assertResizable(file, size, target ?? size);
  let pipeline = sharp(file, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
    .rotate() // honour EXIF orientation, as a photo viewer does
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb');
  if (target) pipeline = pipeline.resize(target.width, target.height, { fit: 'fill', kernel: 'linear' });
  try {
    const { data, info } = await pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (err) {
    throw new InputError(`${showPath(file)} could not be decoded (${firstLine(err)}); is it truncated or corrupt?`);
  }
}

/** The first line of an error's message (libvips messages run over several lines). */
function firstLine(err: unknown): string {
  return (err as Error).message.split('\n')[0];
}

/** The pixels [left, left + width) x [top, top + height) of an image (inside it). */
export function cropRgb(img: RgbImage, left: number, top: number, width: number, height: number): RgbImage {
  if (left < 0 || top < 0 || left + width > img.width || top + height > img.height) {
    throw new RangeError(`cropRgb: ${width}x${height} at (${left}, ${top}) is outside the ${img.width}x${img.height} image`);
  }
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) data.set(img.data.subarray(((top + y) * img.width + left) * 3, ((top + y) * img.width + left + width) * 3), y * width * 3);
  return { data, width, height };
}

/** RGB image -> float32 tensor [height, width, 3] scaled to [0, 1]. */
export function imageToTensor(img: RgbImage): tf.Tensor3D {
  return tf.tidy(() => tf.tensor3d(img.data, [img.height, img.width, 3], 'int32').toFloat().div(255));
}

/** Encodes RGB (or RGBA with channels 4) pixels as PNG. */
export async function encodePng(data: Uint8Array, width: number, height: number, channels: 3 | 4 = 3): Promise<Buffer> {
  return sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels } }).png().toBuffer();
}

/** Writes RGB pixels to a PNG file atomically. */
export async function writePng(file: string, img: RgbImage): Promise<void> {
  await writeFileAtomic(file, await encodePng(img.data, img.width, img.height));
}

/** Renders an SVG document to PNG (fonts from the system; DejaVu on Debian). */
export async function svgToPng(svg: string, density = 144): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density }).png().toBuffer();
}
