/**
 * Raw explanation maps at the original image's resolution, as files (docs/RAW_MAPS.md):
 *
 *   <name>.<model>.<method>.raw.png  16-bit greyscale PNG; code v in 0..65535 decodes linearly to
 *                                    value = min + (max - min) * v / 65535, with min, max and the
 *                                    rest of the metadata as JSON in a tEXt chunk `dnnkit-raw-map`
 *   <name>.<model>.<method>.raw.csv  one row per pixel row, 7 significant digits, empty cells
 *                                    outside the model's window
 *
 * Pixels outside the model's window (the part of the photo the centre crop cut away) are NaN in
 * the library, empty in the CSV, and code(0) in the PNG, with the covered rectangle in the
 * metadata so that `decodeRawMap` gives NaN there again. The range includes 0, so that 0 (and the
 * border) is within half a step of a code. Quantisation error: at most (max - min) / 131070.
 *
 * The PNG is written here (not by sharp) so that the bytes are exactly what the format says:
 * big-endian 16-bit samples (PNG spec, sec. 7.1), filter type 2 (Up) on every row after the
 * first, zlib, a CRC-32 per chunk (node:zlib crc32).
 */
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { promises as fsp } from 'node:fs';
import { writeFileAtomic } from '../core/fsutil.js';
import { InputError } from '../core/errors.js';
import type { PixelRect } from './original_view.js';

/** The formats of --raw: a 16-bit PNG, a CSV, or no full-resolution map. */
export const RAW_FORMATS = ['png16', 'csv', 'none'] as const;
export type RawFormat = (typeof RAW_FORMATS)[number];

/** The tEXt keyword of the metadata. */
export const RAW_MAP_KEYWORD = 'dnnkit-raw-map';
const CODES = 65535;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** What a raw map file says about itself (the PNG's tEXt chunk; the CSV needs none). */
export interface RawMapInfo {
  format: 'dnnkit-raw-map';
  version: 1;
  /** The decoding, in words: `value = min + (max - min) * code / 65535`. */
  encoding: string;
  min: number;
  max: number;
  width: number;
  height: number;
  /** The pixels the model saw; the others decode to NaN. */
  covered: PixelRect;
  /** What the values mean (units). */
  values: string;
  method: string;
  model: string;
  image: string;
  classIndex: number;
  label: string;
}

/** The fields a caller gives; the encoder adds the rest. */
export type RawMapDescription = Omit<RawMapInfo, 'format' | 'version' | 'encoding' | 'min' | 'max' | 'width' | 'height' | 'covered'>;

/** One PNG chunk: length, type, data, CRC-32 of type and data (PNG spec sec. 5.3). */
export function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * Encodes a map as a 16-bit greyscale PNG with its metadata.
 * @param values [height * width] row-major; NaN outside `covered`
 */
export function encodeRawMap(values: Float32Array, width: number, height: number, covered: PixelRect, description: RawMapDescription): Buffer {
  if (values.length !== width * height) throw new Error(`encodeRawMap: ${values.length} values for ${width}x${height}`);
  let min = 0;
  let max = 0;
  for (const v of values) {
    if (Number.isNaN(v)) continue;
    if (!Number.isFinite(v)) throw new Error(`encodeRawMap: the map holds ${v}`);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (max === min) max = min + 1; // all zero: every code decodes to 0
  const scale = CODES / (max - min);
  const stride = 1 + 2 * width; // filter byte + big-endian samples
  const raw = Buffer.alloc(stride * height);
  let prev: Buffer | undefined;
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(2 * width);
    for (let x = 0; x < width; x++) {
      const v = values[y * width + x];
      row.writeUInt16BE(Math.round(((Number.isNaN(v) ? 0 : v) - min) * scale), 2 * x);
    }
    raw[y * stride] = prev ? 2 : 0; // Up: byte - the byte above (mod 256)
    for (let i = 0; i < row.length; i++) raw[y * stride + 1 + i] = prev ? (row[i] - prev[i]) & 0xff : row[i];
    prev = row;
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 16; // bit depth
  ihdr[9] = 0; // colour type: greyscale
  const info: RawMapInfo = {
    format: 'dnnkit-raw-map', version: 1, encoding: 'value = min + (max - min) * code / 65535', min, max, width, height, covered, ...description,
  };
  // tEXt is Latin-1: escape anything beyond ASCII in the JSON (\uXXXX) so labels survive.
  const text = JSON.stringify(info).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    pngChunk('tEXt', Buffer.from(`${RAW_MAP_KEYWORD}\0${text}`, 'latin1')),
    pngChunk('IDAT', deflateSync(raw, { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The Paeth predictor (PNG spec, sec. 9.4). */
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decodes a raw map PNG: the values (NaN outside the covered rectangle) and the metadata. Any
 * 16-bit greyscale non-interlaced PNG with the `dnnkit-raw-map` text chunk is read (all five
 * filter types), so a file re-compressed by another tool still decodes.
 */
export function decodeRawMap(png: Uint8Array, name = 'raw map'): { values: Float32Array; info: RawMapInfo } {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) throw new InputError(`${name} is not a PNG file`);
  let width = 0;
  let height = 0;
  let info: RawMapInfo | undefined;
  const idat: Buffer[] = [];
  for (let at = 8; at + 8 <= buf.length;) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    const data = buf.subarray(at + 8, at + 8 + length);
    at += 12 + length;
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 16 || data[9] !== 0 || data[12] !== 0) {
        throw new InputError(`${name} is not a 16-bit greyscale non-interlaced PNG (bit depth ${data[8]}, colour type ${data[9]}, interlace ${data[12]}); give a .raw.png written by dnnkit`);
      }
    } else if (type === 'tEXt') {
      const zero = data.indexOf(0);
      if (data.toString('latin1', 0, zero) === RAW_MAP_KEYWORD) info = JSON.parse(data.toString('latin1', zero + 1)) as RawMapInfo;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
  }
  if (!info) throw new InputError(`${name} has no '${RAW_MAP_KEYWORD}' text chunk (min, max); was it re-saved by a program that drops PNG text?`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = 2 * width;
  const rows = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = rows.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? rows.subarray((y - 1) * stride, y * stride) : undefined;
    for (let i = 0; i < stride; i++) {
      const a = i >= 2 ? out[i - 2] : 0; // bytes per pixel: 2
      const b = up ? up[i] : 0;
      const c = up && i >= 2 ? up[i - 2] : 0;
      const pred = filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : filter === 4 ? paeth(a, b, c) : NaN;
      if (Number.isNaN(pred)) throw new InputError(`${name}: unknown PNG filter type ${filter} in row ${y}`);
      out[i] = (src[i] + pred) & 0xff;
    }
  }
  const values = new Float32Array(width * height).fill(NaN);
  const step = (info.max - info.min) / CODES;
  const r = info.covered;
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) values[y * width + x] = info.min + step * rows.readUInt16BE(2 * (y * width + x));
  }
  return { values, info };
}

/** Reads a `.raw.png` file (see decodeRawMap). */
export async function readRawMap(file: string): Promise<{ values: Float32Array; info: RawMapInfo }> {
  return decodeRawMap(await fsp.readFile(file), file);
}

/** The CSV text of a map: header x0..x{w-1}, one row per pixel row, NaN as an empty cell. */
export function rawMapCsv(values: Float32Array, width: number, height: number): string {
  const lines = [Array.from({ length: width }, (_, x) => `x${x}`).join(',')];
  for (let y = 0; y < height; y++) {
    const cells: string[] = new Array(width);
    for (let x = 0; x < width; x++) {
      const v = values[y * width + x];
      cells[x] = Number.isNaN(v) ? '' : String(Number(v.toPrecision(7)));
    }
    lines.push(cells.join(','));
  }
  return lines.join('\n') + '\n';
}

/**
 * Writes `<base>.raw.png` or `<base>.raw.csv` (atomically), or nothing for 'none'.
 * Returns the --json field: { rawPng } or { rawCsv } with the path.
 */
export async function writeRawMap(base: string, format: RawFormat, values: Float32Array, width: number, height: number, covered: PixelRect, description: RawMapDescription): Promise<Record<string, string>> {
  if (format === 'png16') {
    await writeFileAtomic(`${base}.raw.png`, encodeRawMap(values, width, height, covered, description));
    return { rawPng: `${base}.raw.png` };
  }
  if (format === 'csv') {
    await writeFileAtomic(`${base}.raw.csv`, rawMapCsv(values, width, height));
    return { rawCsv: `${base}.raw.csv` };
  }
  return {};
}
