/**
 * CSV at the edges: csv-stringify to write (atomically). Text files are read as strict UTF-8
 * (`readUtf8File`) and numbers as decimals only (`parseDecimal`).
 */
import { promises as fsp } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import { writeFileAtomic } from './fsutil.js';
import { InputError, withPath } from './errors.js';

export type CsvCell = string | number | boolean | null | undefined;

/** Writes a header and rows to `file` atomically. */
export async function writeCsv(file: string, header: readonly string[], rows: readonly (readonly CsvCell[])[]): Promise<void> {
  const text = stringify([header as string[], ...(rows as CsvCell[][])], {
    cast: { number: (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(7)))) },
  });
  await writeFileAtomic(file, text).catch((err) => { throw withPath(err, file); });
}

/** A decimal number with optional sign, fraction and exponent: '3', '-0.5', '.5', '1e-3', '2.E+4'. */
const DECIMAL = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * The number a cell holds, or NaN. Only decimal notation counts: Number() would also read
 * '0x1A', '0b11', '0o17' (and '' as 0), which in a data file are codes or typos, not numbers.
 */
export function parseDecimal(cell: string): number {
  const t = cell.trim();
  return DECIMAL.test(t) ? Number(t) : NaN;
}

/**
 * Decodes `bytes` as UTF-8 (a leading byte-order mark is dropped), refusing invalid UTF-8 with an
 * InputError naming `file` and the 1-based line of the first bad byte. Node's own decoding would
 * turn those bytes into U+FFFD without a word.
 */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Find the line: a newline byte never occurs inside a multi-byte UTF-8 sequence.
    const strict = new TextDecoder('utf-8', { fatal: true });
    let line = 1;
    let start = 0;
    for (;;) {
      const nl = bytes.indexOf(0x0a, start);
      const end = nl < 0 ? bytes.length : nl;
      try {
        strict.decode(bytes.subarray(start, end));
      } catch {
        throw new InputError(`${file}:${line}: not valid UTF-8 text; save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)`);
      }
      if (nl < 0) break;
      line += 1;
      start = nl + 1;
    }
    throw new InputError(`${file}: not valid UTF-8 text; save the file as UTF-8`);
  }
}

/** Reads a text file as strict UTF-8 (see decodeUtf8). */
export async function readUtf8File(file: string): Promise<string> {
  return decodeUtf8(await fsp.readFile(file), file);
}
