/** CSV at the edges: csv-stringify to write (atomically), csv-parse to read. */
import { promises as fsp } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import { parse } from 'csv-parse/sync';
import { writeFileAtomic, assertReadableFile } from './fsutil.js';
import { InputError } from './errors.js';

export type CsvCell = string | number | boolean | null | undefined;

/** Writes a header and rows to `file` atomically. */
export async function writeCsv(file: string, header: readonly string[], rows: readonly (readonly CsvCell[])[]): Promise<void> {
  const text = stringify([header as string[], ...(rows as CsvCell[][])], {
    cast: { number: (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(7)))) },
  });
  await writeFileAtomic(file, text);
}

export interface CsvTable {
  header: string[];
  /** Rows as strings, each the length of the header. */
  rows: string[][];
}

/**
 * Reads a CSV with a header row. Ragged rows, an empty file or a file with no data rows get an
 * InputError naming the file and line.
 */
export async function readCsv(file: string, delimiter = ','): Promise<CsvTable> {
  await assertReadableFile(file, 'CSV file');
  const text = await fsp.readFile(file, 'utf8');
  let records: string[][];
  try {
    records = parse(text, { delimiter, relax_column_count: false, skip_empty_lines: true, trim: true });
  } catch (err) {
    const e = err as { lines?: number; message: string };
    throw new InputError(`${file}: ${e.message.replace(/^Invalid Record Length: /, 'ragged row: ')}; every row needs as many cells as the header`);
  }
  if (records.length === 0) throw new InputError(`${file} has no header row; expected a CSV with a header`);
  if (records.length === 1) throw new InputError(`${file} has a header but no data rows`);
  return { header: records[0], rows: records.slice(1) };
}
