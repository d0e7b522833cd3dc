/**
 * Image file -> model input. ImageNet models get torchvision's evaluation transform
 * (Resize(256) -> CenterCrop(224) -> ToTensor -> Normalize(mean, std)); other models get the image
 * resized to their input size, grayscale when they take one channel, scaled to [0, 1].
 */
import * as tf from '@tensorflow/tfjs';
import { loadImage, MAX_RESIZED_PIXELS, readImageSize, type ImageSize, type RgbImage } from '../core/image.js';
import { InputError } from '../core/errors.js';

/** torchvision's ImageNet normalisation (transforms.Normalize). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
export const IMAGENET_RESIZE = 256;
export const IMAGENET_CROP = 224;

/**
 * Where the model input lies in the original image, in the original's pixel coordinates
 * (continuous: pixel x covers [x, x + 1)). Resizing maps the half-pixel centres linearly (libvips,
 * PIL and OpenCV alike), so the input point (u, v) (input pixel j covers [j, j + 1)) is the
 * original point (left + u * width / inputWidth, top + v * height / inputHeight). A model that
 * only resizes has the window {0, 0, W, H}; an ImageNet model the centre crop mapped back.
 */
export interface InputWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The original image beside the model input: its size, the input's window in it, and its pixels,
 * decoded on first use (the classifier never asks; the overlays and raw maps do).
 */
export interface ImageView {
  /** The image file's displayed size (EXIF orientation applied). */
  fileSize: ImageSize;
  /** The model input's window in the file's pixel coordinates. */
  window: InputWindow;
  /** The model input's size (display image), width x height. */
  inputSize: ImageSize;
  /**
   * The original RGB pixels: the file at its own resolution, or downscaled (aspect kept) to at most
   * MAX_RESIZED_PIXELS. Map `window` onto it with `windowOn(view, image)`.
   */
  original(): Promise<RgbImage>;
}

/** A preprocessed image: the model input, the image the model sees, and the original around it. */
export interface Preprocessed {
  /** [1, h, w, c] */
  input: tf.Tensor4D;
  /** The RGB image the model sees (after resize/crop), w x h. */
  display: RgbImage;
  view: ImageView;
}

/** `view.window` in the pixel coordinates of `image` (the original, possibly downscaled). */
export function windowOn(view: ImageView, image: ImageSize): InputWindow {
  const fx = image.width / view.fileSize.width;
  const fy = image.height / view.fileSize.height;
  const w = view.window;
  return { left: w.left * fx, top: w.top * fy, width: w.width * fx, height: w.height * fy };
}

/** A view of `file` whose input window is `window`; the pixels are decoded once, when first asked. */
export function imageView(file: string, fileSize: ImageSize, window: InputWindow, inputSize: ImageSize): ImageView {
  let pixels: Promise<RgbImage> | undefined;
  return {
    fileSize, window, inputSize,
    original() {
      const n = fileSize.width * fileSize.height;
      // Beyond MAX_RESIZED_PIXELS (a 20000 x 20000 photo would be 1.2 GB of RGB) decode a downscaled copy.
      const f = n > MAX_RESIZED_PIXELS ? Math.sqrt(MAX_RESIZED_PIXELS / n) : 1;
      pixels ??= loadImage(file, f === 1 ? {} : { size: { width: Math.max(1, Math.floor(fileSize.width * f)), height: Math.max(1, Math.floor(fileSize.height * f)) } });
      return pixels;
    },
  };
}

/** torchvision's CenterCrop offset of a `size` crop from a `length` side: round((length - size) / 2). */
export function centerCropOffset(length: number, size: number): number {
  return Math.round((length - size) / 2);
}

/** Centre crop as torchvision's CenterCrop: top = round((h - size) / 2), left likewise. */
export function centerCrop(img: RgbImage, width: number, height: number): RgbImage {
  if (img.width < width || img.height < height) {
    throw new InputError(`image of ${img.width}x${img.height} is smaller than the ${width}x${height} crop`);
  }
  const top = centerCropOffset(img.height, height);
  const left = centerCropOffset(img.width, width);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const src = ((top + y) * img.width + left) * 3;
    data.set(img.data.subarray(src, src + width * 3), y * width * 3);
  }
  return { data, width, height };
}

/** RGB pixels -> [1, h, w, 3] normalised with ImageNet mean/std. */
export function imagenetTensor(img: RgbImage): tf.Tensor4D {
  return tf.tidy(() => {
    const x = tf.tensor3d(img.data, [img.height, img.width, 3], 'int32').toFloat().div(255);
    return x.sub(tf.tensor1d([...IMAGENET_MEAN])).div(tf.tensor1d([...IMAGENET_STD])).expandDims(0) as tf.Tensor4D;
  });
}

/**
 * torchvision's Resize(size) output size: the shorter side becomes `size`, the longer
 * int(size * long / short) (truncated, as torchvision does; rounding would shift the crop by a pixel).
 */
export function torchvisionResizeSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.floor((size * height) / width) };
  return { width: Math.floor((size * width) / height), height: size };
}

/**
 * Where the resized image's coordinate R (continuous) lies in the original: X = (R - shift) * s,
 * s = original / resized, along one axis. When libvips (sharp's resize, kernel 'linear') shrinks,
 * it maps half-pixel centres (shift 0, as PIL and torchvision do); when it enlarges, the content
 * lands half an output pixel further (shift 0.5). Measured: a blob centred at 50 of 100 pixels
 * is centred at 150.5 of 300 after enlarging, at 25 of 50 after shrinking; the blob test in
 * test/explain/overlay.test.ts checks the window against the real preprocessing both ways.
 */
export function resizeShift(original: number, resized: number): number {
  return resized > original ? 0.5 : 0;
}

/** The window of a resize of width x height to `resized`, then a crop at (left, top) of crop.width x crop.height. */
export function resizedWindow(width: number, height: number, resized: ImageSize, left: number, top: number, crop: ImageSize): InputWindow {
  const sx = width / resized.width;
  const sy = height / resized.height;
  return {
    left: (left - resizeShift(width, resized.width)) * sx,
    top: (top - resizeShift(height, resized.height)) * sy,
    width: crop.width * sx,
    height: crop.height * sy,
  };
}

/**
 * The window of torchvision's Resize(resize) + CenterCrop(crop) in a width x height image: the
 * crop's offset in the resized image, scaled back by original / resized per axis (the two scales
 * differ slightly, as Resize truncates the longer side).
 */
export function resizeCropWindow(width: number, height: number, resize = IMAGENET_RESIZE, crop = IMAGENET_CROP): InputWindow {
  const resized = torchvisionResizeSize(width, height, resize);
  return resizedWindow(width, height, resized, centerCropOffset(resized.width, crop), centerCropOffset(resized.height, crop), { width: crop, height: crop });
}

/** torchvision's ImageNet preprocessing of an image file. */
export async function preprocessImagenet(file: string): Promise<Preprocessed> {
  const { width, height } = await readImageSize(file);
  // loadImage refuses sizes beyond MAX_RESIZED_PIXELS before resizing (a 1 x 100,000 image would be 256 x 25,600,000).
  const resized = await loadImage(file, { size: torchvisionResizeSize(width, height, IMAGENET_RESIZE) });
  const display = centerCrop(resized, IMAGENET_CROP, IMAGENET_CROP);
  const view = imageView(file, { width, height }, resizeCropWindow(width, height), { width: IMAGENET_CROP, height: IMAGENET_CROP });
  return { input: imagenetTensor(display), display, view };
}

/**
 * Preprocessing for a custom model with input [h, w, c]: resize to w x h (aspect not kept), [0, 1];
 * c = 1 takes the luma (ITU-R 601: 0.299 R + 0.587 G + 0.114 B, as PIL's convert('L')).
 */
export async function preprocessPlain(file: string, inputShape: [number, number, number]): Promise<Preprocessed> {
  const [h, w, c] = inputShape;
  if (c !== 1 && c !== 3) throw new InputError(`the model takes ${c} channels; dnnkit feeds images to models with 1 (grayscale) or 3 (RGB) channels`);
  const fileSize = await readImageSize(file);
  const display = await loadImage(file, { size: { width: w, height: h } });
  // No crop: the input covers the whole image (up to libvips's half-pixel shift when it enlarges).
  const view = imageView(file, fileSize, resizedWindow(fileSize.width, fileSize.height, { width: w, height: h }, 0, 0, { width: w, height: h }), { width: w, height: h });
  const input = tf.tidy(() => {
    const rgb = tf.tensor3d(display.data, [h, w, 3], 'int32').toFloat().div(255);
    const x = c === 1 ? rgb.mul(tf.tensor1d([0.299, 0.587, 0.114])).sum(-1, true) : rgb;
    return x.expandDims(0) as tf.Tensor4D;
  });
  return { input, display, view };
}
