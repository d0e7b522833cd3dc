/**
 * Image I/O at the edges, with sharp (libvips): decode any common format (PNG, JPEG, WebP, TIFF,
 * GIF; 8/16-bit, grayscale, CMYK, alpha) to 8-bit RGB, resize, encode PNG.
 */
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { assertReadableFile, writeFileAtomic } from './fsutil.js';
import { InputError } from './errors.js';

/** Decoded 8-bit RGB pixels, row-major [height, width, 3]. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Largest image dnnkit decodes (pixels); libvips streams, so this bounds memory, not speed. */
export const MAX_INPUT_PIXELS = 20_000 * 20_000;

export interface LoadImageOptions {
  /** Resize so that the shorter side is this many pixels (aspect kept), as torchvision's Resize(int). */
  shorterSide?: number;
  /** Resize to exactly width x height (aspect not kept). */
  size?: { width: number; height: number };
}

/**
 * Decodes an image file to RGB. Alpha is composited on white, grayscale is expanded to RGB,
 * CMYK and 16-bit images are converted to 8-bit sRGB. A file that is not an image gets an
 * InputError that names it.
 */
export async function loadImage(file: string, opts: LoadImageOptions = {}): Promise<RgbImage> {
  await assertReadableFile(file, 'image');
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>["metadata"]>>;
  try {
    meta = await sharp(file, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  } catch (err) {
    throw new InputError(`${file} is not a readable image (${(err as Error).message.split('\n')[0]}); give a PNG, JPEG, WebP, GIF or TIFF file`);
  }
  if (!meta.width || !meta.height) throw new InputError(`${file}: the image has no size; is it corrupt?`);
  let pipeline = sharp(file, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
    .rotate() // honour EXIF orientation, as a photo viewer does
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb');
  if (opts.size) {
    pipeline = pipeline.resize(opts.size.width, opts.size.height, { fit: 'fill', kernel: 'linear' });
  } else if (opts.shorterSide) {
    const s = opts.shorterSide;
    const w = meta.width <= meta.height ? s : Math.round((s * meta.width) / meta.height);
    const h = meta.width <= meta.height ? Math.round((s * meta.height) / meta.width) : s;
    pipeline = pipeline.resize(w, h, { fit: 'fill', kernel: 'linear' });
  }
  try {
    const { data, info } = await pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (err) {
    throw new InputError(`${file} could not be decoded (${(err as Error).message.split('\n')[0]}); is it truncated or corrupt?`);
  }
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
