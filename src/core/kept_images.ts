/**
 * Preprocessed images kept from the check that every image decodes (done before a command writes
 * anything) until their turn, up to a memory budget. Past the budget an image is disposed and
 * decoded again in its turn: a folder of 10,000 images is not held at once (600 KB each as a
 * 224 x 224 float32 input).
 */
import type * as tf from '@tensorflow/tfjs';
import type { RgbImage } from './image.js';

/** A model input [1, h, w, c] and the RGB image the model sees. */
export interface PreprocessedImage {
  input: tf.Tensor4D;
  display: RgbImage;
}

export class KeptImages<T extends PreprocessedImage = PreprocessedImage> {
  private readonly kept = new Map<string, T>();
  private bytes = 0;
  /** @param budgetBytes most bytes kept (inputs as float32 plus display pixels) */
  constructor(private readonly budgetBytes = 256 * 2 ** 20) {}

  private static sizeOf(image: PreprocessedImage): number {
    return image.input.size * 4 + image.display.data.length;
  }

  /** Keeps `image` for `file` while within the budget, else disposes it. */
  offer(file: string, image: T): void {
    const size = KeptImages.sizeOf(image);
    if (this.kept.has(file) || this.bytes + size > this.budgetBytes) {
      image.input.dispose();
      return;
    }
    this.kept.set(file, image);
    this.bytes += size;
  }

  /** The kept image of `file`, now the caller's to dispose; undefined when it was not kept. */
  take(file: string): T | undefined {
    const image = this.kept.get(file);
    if (image) {
      this.kept.delete(file);
      this.bytes -= KeptImages.sizeOf(image);
    }
    return image;
  }

  /** Disposes every image still kept. */
  dispose(): void {
    for (const im of this.kept.values()) im.input.dispose();
    this.kept.clear();
    this.bytes = 0;
  }
}
