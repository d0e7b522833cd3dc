/**
 * Small grey-scale PNGs as data: URIs, for the MNIST digits shown in a projection's tooltip.
 * A 28x28 PNG is a few hundred bytes, so 2,000 digits add well under a megabyte to a report.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { deflateSync } from 'node:zlib';
import { parseIdxImages, parseIdxLabels, readMaybeGzip } from '../mnist/idx.js';

/** PNG signature and chunk layout: ISO/IEC 15948 (PNG), sections 5.2-5.3. */
const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const PNG_GREY = 0; // colour type 0: grey-scale
const PNG_FILTER_NONE = 0;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of the PNG spec (annex D). */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An 8-bit grey-scale PNG of `pixels` (rows*cols bytes, row-major, 0 = black). */
export function encodeGreyPng(pixels: Uint8Array, rows: number, cols: number): Buffer {
  if (pixels.length !== rows * cols) throw new RangeError(`encodeGreyPng: ${pixels.length} pixels for ${rows}x${cols}`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(cols, 0);
  ihdr.writeUInt32BE(rows, 4);
  ihdr.set([8, PNG_GREY, 0, 0, 0], 8); // bit depth 8, deflate, adaptive filtering, no interlace
  const raw = new Uint8Array(rows * (cols + 1)); // each scan line: filter byte, then the pixels
  for (let r = 0; r < rows; r++) {
    raw[r * (cols + 1)] = PNG_FILTER_NONE;
    raw.set(pixels.subarray(r * cols, (r + 1) * cols), r * (cols + 1) + 1);
  }
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', new Uint8Array(0))]);
}

/** The MNIST test images and labels a train-mnist run projected (the first N of the test split). */
export interface TestDigits {
  labels: Uint8Array;
  /** The digit `i` as a PNG data: URI, dark ink on white. */
  dataUri(i: number): string;
  count: number;
}

/** Finds an IDX file under its usual spellings (as src/mnist/data.ts does). */
function findIdx(dir: string, prefix: string, kind: 'idx3' | 'idx1'): string | null {
  for (const n of [`${prefix}-${kind}-ubyte`, `${prefix}.${kind}-ubyte`]) {
    for (const f of [n, `${n}.gz`]) if (existsSync(path.join(dir, f))) return path.join(dir, f);
  }
  return null;
}

/** The MNIST test split in `dir`, or null when its IDX files are not there. */
export async function loadTestDigits(dir: string): Promise<TestDigits | null> {
  const imagesFile = findIdx(dir, 't10k-images', 'idx3');
  const labelsFile = findIdx(dir, 't10k-labels', 'idx1');
  if (!imagesFile || !labelsFile) return null;
  const img = parseIdxImages(await readMaybeGzip(imagesFile), imagesFile);
  const labels = parseIdxLabels(await readMaybeGzip(labelsFile), labelsFile);
  const size = img.rows * img.cols;
  return {
    labels,
    count: Math.min(img.count, labels.length),
    dataUri(i: number): string {
      const ink = img.pixels.subarray(i * size, (i + 1) * size);
      const inverted = ink.map((p) => 255 - p); // white paper, dark ink: readable on the light tooltip
      return `data:image/png;base64,${encodeGreyPng(inverted, img.rows, img.cols).toString('base64')}`;
    },
  };
}
