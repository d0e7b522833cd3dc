/**
 * The IDX file format of MNIST (LeCun et al.): a big-endian header, then unsigned bytes.
 *   images: magic 2051 (0x00000803), count, rows, cols, then count*rows*cols pixels
 *   labels: magic 2049 (0x00000801), count, then count labels
 * Files may be gzip-compressed (detected by the gzip magic bytes, not the name).
 */
import { promises as fsp } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { assertReadableFile } from '../core/fsutil.js';
import { InputError } from '../core/errors.js';

export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;
const GZIP_MAGIC = [0x1f, 0x8b];

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count*rows*cols pixel bytes, row-major. */
  pixels: Uint8Array;
}

/** Parses an IDX images buffer; `name` is used in error messages. */
export function parseIdxImages(buf: Uint8Array, name: string): IdxImages {
  if (buf.length < 16) throw new InputError(`${name}: too short for an IDX images header (${buf.length} bytes); the file is truncated or not IDX`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0);
  if (magic !== IDX_IMAGES_MAGIC) {
    throw new InputError(`${name}: wrong magic number ${magic} (expected ${IDX_IMAGES_MAGIC} for IDX images); is this an MNIST images file?`);
  }
  const count = view.getUint32(4);
  const rows = view.getUint32(8);
  const cols = view.getUint32(12);
  if (rows === 0 || cols === 0 || rows > 4096 || cols > 4096) throw new InputError(`${name}: implausible image size ${rows}x${cols}`);
  const expected = 16 + count * rows * cols;
  if (buf.length !== expected) {
    throw new InputError(`${name}: ${buf.length} bytes but the header (${count} images of ${rows}x${cols}) needs ${expected}; the file is truncated or corrupt`);
  }
  return { count, rows, cols, pixels: buf.subarray(16) };
}

/** Parses an IDX labels buffer; `name` is used in error messages. */
export function parseIdxLabels(buf: Uint8Array, name: string): Uint8Array {
  if (buf.length < 8) throw new InputError(`${name}: too short for an IDX labels header (${buf.length} bytes); the file is truncated or not IDX`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0);
  if (magic !== IDX_LABELS_MAGIC) {
    throw new InputError(`${name}: wrong magic number ${magic} (expected ${IDX_LABELS_MAGIC} for IDX labels); is this an MNIST labels file?`);
  }
  const count = view.getUint32(4);
  if (buf.length !== 8 + count) {
    throw new InputError(`${name}: ${buf.length} bytes but the header (${count} labels) needs ${8 + count}; the file is truncated or corrupt`);
  }
  return buf.subarray(8);
}

/** Reads a file, gunzipping it when it starts with the gzip magic bytes. */
export async function readMaybeGzip(file: string): Promise<Uint8Array> {
  await assertReadableFile(file, 'IDX file');
  const raw = new Uint8Array(await fsp.readFile(file));
  if (raw[0] === GZIP_MAGIC[0] && raw[1] === GZIP_MAGIC[1]) {
    try {
      return new Uint8Array(gunzipSync(raw));
    } catch (err) {
      throw new InputError(`${file}: corrupt gzip data (${(err as Error).message}); download the file again`);
    }
  }
  return raw;
}
