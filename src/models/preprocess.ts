/**
 * Image file -> model input. ImageNet models get torchvision's evaluation transform
 * (Resize(256) -> CenterCrop(224) -> ToTensor -> Normalize(mean, std)); other models get the image
 * resized to their input size, grayscale when they take one channel, scaled to [0, 1].
 */
import * as tf from '@tensorflow/tfjs';
import { loadImage, readImageSize, type RgbImage } from '../core/image.js';
import { InputError } from '../core/errors.js';

/** torchvision's ImageNet normalisation (transforms.Normalize). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
export const IMAGENET_RESIZE = 256;
export const IMAGENET_CROP = 224;

/** Centre crop as torchvision's CenterCrop: top = round((h - size) / 2), left likewise. */
export function centerCrop(img: RgbImage, width: number, height: number): RgbImage {
  if (img.width < width || img.height < height) {
    throw new InputError(`image of ${img.width}x${img.height} is smaller than the ${width}x${height} crop`);
  }
  const top = Math.round((img.height - height) / 2);
  const left = Math.round((img.width - width) / 2);
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

/** torchvision's ImageNet preprocessing of an image file. */
export async function preprocessImagenet(file: string): Promise<{ input: tf.Tensor4D; display: RgbImage }> {
  const { width, height } = await readImageSize(file);
  // loadImage refuses sizes beyond MAX_RESIZED_PIXELS before resizing (a 1 x 100,000 image would be 256 x 25,600,000).
  const resized = await loadImage(file, { size: torchvisionResizeSize(width, height, IMAGENET_RESIZE) });
  const display = centerCrop(resized, IMAGENET_CROP, IMAGENET_CROP);
  return { input: imagenetTensor(display), display };
}

/**
 * Preprocessing for a custom model with input [h, w, c]: resize to w x h (aspect not kept), [0, 1];
 * c = 1 takes the luma (ITU-R 601: 0.299 R + 0.587 G + 0.114 B, as PIL's convert('L')).
 */
export async function preprocessPlain(file: string, inputShape: [number, number, number]): Promise<{ input: tf.Tensor4D; display: RgbImage }> {
  const [h, w, c] = inputShape;
  if (c !== 1 && c !== 3) throw new InputError(`the model takes ${c} channels; dnnkit feeds images to models with 1 (grayscale) or 3 (RGB) channels`);
  const display = await loadImage(file, { size: { width: w, height: h } });
  const input = tf.tidy(() => {
    const rgb = tf.tensor3d(display.data, [h, w, 3], 'int32').toFloat().div(255);
    const x = c === 1 ? rgb.mul(tf.tensor1d([0.299, 0.587, 0.114])).sum(-1, true) : rgb;
    return x.expandDims(0) as tf.Tensor4D;
  });
  return { input, display };
}
