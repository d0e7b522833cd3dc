/**
 * Maps computed on the model input, placed on the original image: the inverse of the
 * preprocessing's resize and centre crop (models/preprocess.ts `InputWindow`). The window is
 * continuous (pixel x covers [x, x + 1)); an image pixel belongs to the input when its centre
 * lies inside the window. Pure geometry: no colours, no files.
 */
import type { ImageSize } from '../core/image.js';
import type { InputWindow } from '../models/preprocess.js';
import { patchIndexMap, type PatchGrid } from './image_game.js';

/** Whole pixels [x, x + width) x [y, y + height) of an image. */
export interface PixelRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The pixels of an image of `size` whose centres lie inside `win`: those the model saw. */
export function coveredPixels(win: InputWindow, size: ImageSize): PixelRect {
  // centre x + 0.5 in [left, left + width)  <=>  x in [ceil(left - 0.5), ceil(left + width - 0.5))
  const x0 = Math.max(0, Math.ceil(win.left - 0.5));
  const y0 = Math.max(0, Math.ceil(win.top - 0.5));
  const x1 = Math.min(size.width, Math.ceil(win.left + win.width - 0.5));
  const y1 = Math.min(size.height, Math.ceil(win.top + win.height - 0.5));
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}

/** Bilinear value of a [h, w] map at continuous cell coordinates (q, r), edges clamped. */
function bilinear(map: ArrayLike<number>, w: number, h: number, q: number, r: number): number {
  const qc = Math.min(Math.max(q, 0), w - 1);
  const rc = Math.min(Math.max(r, 0), h - 1);
  const q0 = Math.floor(qc);
  const r0 = Math.floor(rc);
  const q1 = Math.min(q0 + 1, w - 1);
  const r1 = Math.min(r0 + 1, h - 1);
  const a = qc - q0;
  const b = rc - r0;
  const top = map[r0 * w + q0] * (1 - a) + map[r0 * w + q1] * a;
  const bottom = map[r1 * w + q0] * (1 - a) + map[r1 * w + q1] * a;
  return top * (1 - b) + bottom * b;
}

/**
 * A map whose mapWidth x mapHeight cells tile the model input (a CAM at its layer's resolution, a
 * pixel attribution at the input's), resampled at every pixel of an image of `size` in which the
 * input's window is `win`. Bilinear with half-pixel centres and clamped edges, as upsampleBilinear
 * (tf resizeBilinear halfPixelCenters, torch align_corners=False): the pixel centre X maps to the
 * cell coordinate q = (X - left) * mapWidth / width - 0.5. A pixel that spans several cells (an
 * original smaller than the input) averages k x k samples, k = ceil(cells per pixel), instead of
 * picking one. Pixels outside the window are NaN.
 * @param map [mapHeight * mapWidth] row-major
 * @returns [size.height * size.width] row-major
 */
export function mapOnImage(map: ArrayLike<number>, mapWidth: number, mapHeight: number, win: InputWindow, size: ImageSize): Float32Array {
  const out = new Float32Array(size.width * size.height).fill(NaN);
  const cx = mapWidth / win.width; // cells per image pixel
  const cy = mapHeight / win.height;
  const k = Math.max(1, Math.ceil(Math.max(cx, cy) - 1e-9));
  const rect = coveredPixels(win, size);
  for (let y = rect.y; y < rect.y + rect.height; y++) {
    for (let x = rect.x; x < rect.x + rect.width; x++) {
      let sum = 0;
      for (let j = 0; j < k; j++) {
        const r = (y + (j + 0.5) / k - win.top) * cy - 0.5;
        for (let i = 0; i < k; i++) sum += bilinear(map, mapWidth, mapHeight, (x + (i + 0.5) / k - win.left) * cx - 0.5, r);
      }
      out[y * size.width + x] = sum / (k * k);
    }
  }
  return out;
}

/**
 * The patch of every pixel of an image of `size` (-1 outside the window): the patch of the input
 * pixel under its centre, with the patches of patchIndexMap(grid, input height, input width).
 */
export function patchesOnImage(grid: PatchGrid, input: ImageSize, win: InputWindow, size: ImageSize): Int32Array {
  const inputPatches = patchIndexMap(grid, input.height, input.width);
  const out = new Int32Array(size.width * size.height).fill(-1);
  const rect = coveredPixels(win, size);
  for (let y = rect.y; y < rect.y + rect.height; y++) {
    const v = Math.min(input.height - 1, Math.floor(((y + 0.5 - win.top) * input.height) / win.height));
    for (let x = rect.x; x < rect.x + rect.width; x++) {
      const u = Math.min(input.width - 1, Math.floor(((x + 0.5 - win.left) * input.width) / win.width));
      out[y * size.width + x] = inputPatches[v * input.width + u];
    }
  }
  return out;
}

/**
 * The patch grid's boundaries in image coordinates: xs[c] (c = 0..cols) and ys[r] (r = 0..rows).
 * patchIndexMap puts input column x in patch column floor(x C / W), so column c starts at the
 * first x with x C / W >= c: ceil(c W / C) (not floor: for W = 28, C = 3 the second column starts
 * at x = 10).
 */
export function gridOnImage(grid: PatchGrid, input: ImageSize, win: InputWindow): { xs: number[]; ys: number[] } {
  const xs = Array.from({ length: grid.cols + 1 }, (_, c) => win.left + (Math.ceil((c * input.width) / grid.cols) * win.width) / input.width);
  const ys = Array.from({ length: grid.rows + 1 }, (_, r) => win.top + (Math.ceil((r * input.height) / grid.rows) * win.height) / input.height);
  return { xs, ys };
}
