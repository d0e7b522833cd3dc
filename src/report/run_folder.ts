/**
 * What a report reads from a run folder: its record (run.json; older commands still write
 * run.<command>.json), the files beside it, and their CSV tables. Nothing here knows a command:
 * the sections (sections.ts) decide from what is present.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { InputError } from '../core/errors.js';

export const RUN_JSON = 'run.json';

/** One run folder as the report sees it. */
export interface RunFolder {
  /** Absolute path of the folder. */
  dir: string;
  /** Short name for headings and legends: the folder's base name, made unique among the runs by buildReport. */
  name: string;
  /** The parsed record, or {} when the folder has none (the report then lists settings-free files). */
  record: Record<string, unknown>;
  /** The record's file name relative to dir, or null. */
  recordFile: string | null;
  /** The command that wrote the folder (record.command), or 'unknown'. */
  command: string;
  /** Files in the folder and its sub-folders (relative paths, sorted), without temporaries and report.html. */
  files: string[];
}

/** A CSV table: the header and one object per row, numbers parsed where a whole column is numeric. */
export interface Table {
  columns: string[];
  rows: Record<string, string | number>[];
}

/** Reads the record and file list of `dir`; throws an InputError when dir is not a folder. */
export async function readRunFolder(dir: string): Promise<RunFolder> {
  const abs = path.resolve(dir);
  const st = await fsp.stat(abs).catch(() => undefined);
  if (!st) throw new InputError(`run folder not found: ${dir}; give the --out folder of a dnnkit run`);
  if (!st.isDirectory()) throw new InputError(`${dir} is a file, not a run folder; give the --out folder of a dnnkit run`);
  const files = await listFolder(abs);
  // run.json first; commands that predate the common record write run.<command>.json
  const recordFile = files.includes(RUN_JSON) ? RUN_JSON : files.find((f) => /^run\.[\w-]+\.json$/.test(f)) ?? null;
  let record: Record<string, unknown> = {};
  if (recordFile) {
    try {
      const parsed = JSON.parse(await fsp.readFile(path.join(abs, recordFile), 'utf8')) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) record = parsed as Record<string, unknown>;
    } catch (err) {
      throw new InputError(`${path.join(dir, recordFile)} is not valid JSON (${(err as Error).message}); rerun the command that wrote it`);
    }
  }
  const command = typeof record.command === 'string' ? record.command : 'unknown';
  return { dir: abs, name: path.basename(abs), record, recordFile, command, files };
}

/** Files under `dir` (two levels: a run's model/ folder), relative, sorted. */
async function listFolder(dir: string, depth = 2, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await fsp.readdir(path.join(dir, prefix), { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.name.startsWith('.') || e.name === 'report.html') continue; // locks, temporaries, our own output
    if (e.isDirectory() && depth > 1) out.push(...(await listFolder(dir, depth - 1, rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
}

/** Parses a CSV text; a column whose every non-empty cell is a number becomes numbers. */
export function parseTable(text: string): Table {
  // arrays, not objects: an object would put numeric column names ('0', '1', ...) before the others
  const [header = [], ...cells] = parse(text, { skip_empty_lines: true, relax_column_count: true }) as string[][];
  const columns = header;
  const numeric = columns.map((_, j) => cells.every((r) => r[j] === undefined || r[j] === '' || Number.isFinite(Number(r[j]))));
  const rows = cells.map((r) => {
    const row: Record<string, string | number> = {};
    columns.forEach((c, j) => (row[c] = numeric[j] && r[j] !== '' && r[j] !== undefined ? Number(r[j]) : r[j] ?? ''));
    return row;
  });
  return { columns, rows };
}

/** The table in `run`'s file `rel`, or null when the file is missing or unreadable. */
export async function readTable(run: RunFolder, rel: string): Promise<Table | null> {
  if (!run.files.includes(rel)) return null;
  try {
    return parseTable(await fsp.readFile(path.join(run.dir, rel), 'utf8'));
  } catch {
    return null;
  }
}

/** A file of the run as a data: URI (PNG, SVG, JPEG), or null when it is missing. */
export async function fileDataUri(run: RunFolder, rel: string): Promise<string | null> {
  const mime = MIME[path.extname(rel).toLowerCase()];
  if (!mime || !run.files.includes(rel)) return null;
  const bytes = await fsp.readFile(path.join(run.dir, rel)).catch(() => null);
  return bytes ? `data:${mime};base64,${bytes.toString('base64')}` : null;
}

const MIME: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.svg': 'image/svg+xml' };

/** record[a][b]... or undefined. */
export function pick(obj: unknown, ...keys: string[]): unknown {
  let cur = obj;
  for (const k of keys) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** The first of the paths that holds a value. */
export function pickFirst(obj: unknown, ...paths: string[][]): unknown {
  for (const p of paths) {
    const v = pick(obj, ...p);
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}
