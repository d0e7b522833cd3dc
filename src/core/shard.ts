/**
 * Sharded batch runs (issue 19): `--shard K/N` splits a command's sorted item list (images,
 * sentences, digits) into N deterministic parts, and shard K does its part. Every shard writes into
 * the same --out without clashing:
 *
 *   <item files>                 byte-identical whatever the sharding (no times in them)
 *   items/<name>.<tag>.json      one record per finished item, written last and atomically: the
 *                                item's files with their sizes, its summary rows, its --json entry
 *   plan.shard-K-of-N.json       written first: the whole item list and the settings fingerprint
 *   summary.shard-K-of-N.csv     the shard's rows (the table name is the command's: summary.csv,
 *   run.shard-K-of-N.json        predictions.csv), and its run record, written last
 *
 * An item is done when its record exists, names the same settings fingerprint, and every file it
 * lists exists with its recorded size; a rerun of a shard skips done items (a pre-empted job
 * resumes). `dnnkit merge OUT` (core/merge.ts) joins the item records into one table and run.json.
 *
 * K is 1-based (shard 1/3 is the first of three); item i (0-based, in the command's order) belongs
 * to shard (i mod N) + 1, so that each shard gets a spread of the list (sorted folders often put
 * similar, similarly slow images together).
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './errors.js';
import { removeStaleTemps, writeFileAtomic } from './fsutil.js';
import { invalidateRunRecord } from './run_record.js';
import { writeCsv, type CsvCell } from './csv.js';

/** One shard of a run: `index` of `count`, 1-based. */
export interface Shard {
  /** 1-based: 1..count. */
  index: number;
  count: number;
  /** Where K/N came from: the option, a SLURM job array, a Kubernetes Indexed Job. */
  source: 'option' | 'slurm' | 'kubernetes';
}

/** Most shards: more than any scheduler's array limit, small enough that a typo is caught. */
export const MAX_SHARDS = 1_000_000;

const SHARD_HELP = 'give --shard K/N with 1 <= K <= N (e.g. --shard 2/3), or --shard auto in a SLURM array or a Kubernetes Indexed Job';

function wholeNumber(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
}

function checked(index: number, count: number, source: Shard['source'], what: string): Shard {
  if (count < 1 || count > MAX_SHARDS) throw new UsageError(`${what}: the shard count must be between 1 and ${MAX_SHARDS}, got ${count}; ${SHARD_HELP}`);
  if (index < 1 || index > count) throw new UsageError(`${what}: shard ${index} of ${count} does not exist (K is 1-based, 1 <= K <= N); ${SHARD_HELP}`);
  return { index, count, source };
}

/**
 * Parses `--shard`: `K/N` (1-based), `auto` or `auto/N`. `auto` reads the scheduler's variables:
 *   SLURM job arrays: K = (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP + 1,
 *     N = SLURM_ARRAY_TASK_COUNT (so --array=0-9 and --array=1-10 both give shards 1..10);
 *   Kubernetes Indexed Jobs: K = JOB_COMPLETION_INDEX + 1 (0-based there), N from `auto/N` (the
 *     Job's `completions`; Kubernetes does not put it in the environment) or DNNKIT_SHARD_COUNT.
 * With `auto/N` in a SLURM array, N must agree with SLURM_ARRAY_TASK_COUNT. Throws a UsageError
 * (one line, what to do) on anything else.
 */
export function parseShard(spec: string, env: NodeJS.ProcessEnv = process.env): Shard {
  const text = spec.trim();
  const what = `--shard ${spec}`;
  const fixed = /^(\d+)\/(\d+)$/.exec(text);
  if (fixed) return checked(Number(fixed[1]), Number(fixed[2]), 'option', what);
  const auto = /^auto(?:\/(\d+))?$/.exec(text);
  if (!auto) throw new UsageError(`${what} is not K/N or auto; ${SHARD_HELP}`);
  const givenCount = auto[1] === undefined ? undefined : Number(auto[1]);
  const slurmId = wholeNumber(env.SLURM_ARRAY_TASK_ID);
  if (slurmId !== undefined) {
    const count = wholeNumber(env.SLURM_ARRAY_TASK_COUNT);
    if (count === undefined) throw new UsageError(`${what}: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; run inside an sbatch --array job, or give --shard K/N`);
    if (givenCount !== undefined && givenCount !== count) throw new UsageError(`${what}: the SLURM array has ${count} tasks (SLURM_ARRAY_TASK_COUNT), not ${givenCount}; give --shard auto, or make --array match`);
    const min = wholeNumber(env.SLURM_ARRAY_TASK_MIN) ?? 0;
    const step = wholeNumber(env.SLURM_ARRAY_TASK_STEP) || 1;
    const offset = slurmId - min;
    if (offset < 0 || offset % step !== 0) {
      throw new UsageError(`${what}: SLURM_ARRAY_TASK_ID ${slurmId} is not in the array's range from ${min} by ${step}; use a range such as --array=0-${count - 1}, or give --shard K/N`);
    }
    const index = offset / step + 1;
    if (index > count) throw new UsageError(`${what}: SLURM task ${slurmId} is task ${index} of an array of ${count}; use a contiguous range such as --array=0-${count - 1} (not a list), or give --shard K/N`);
    return checked(index, count, 'slurm', what);
  }
  const k8sIndex = wholeNumber(env.JOB_COMPLETION_INDEX);
  if (k8sIndex !== undefined) {
    const count = givenCount ?? wholeNumber(env.DNNKIT_SHARD_COUNT);
    if (count === undefined) throw new UsageError(`${what}: JOB_COMPLETION_INDEX is ${k8sIndex} but the shard count is unknown; give --shard auto/N with N = the Job's completions (or set DNNKIT_SHARD_COUNT)`);
    return checked(k8sIndex + 1, count, 'kubernetes', what);
  }
  throw new UsageError(`${what}: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set; give --shard K/N outside a job array`);
}

/** Which shard (1-based) of `count` holds item `i` (0-based position in the whole list). */
export function shardOfItem(i: number, count: number): number {
  return (i % count) + 1;
}

/** The items of `shard` (all of them without a shard), in their order: item i when i mod N = K - 1. */
export function shardItems<T>(items: readonly T[], shard: Shard | undefined): T[] {
  if (!shard) return [...items];
  return items.filter((_, i) => shardOfItem(i, shard.count) === shard.index);
}

/** A warning for a shard without items (more shards than items), else undefined. */
export function emptyShardWarning(shard: Shard | undefined, total: number, what = 'items'): string | undefined {
  if (!shard || shard.index <= total) return undefined;
  return `shard ${shard.index}/${shard.count} has no ${what}: the run has ${total}, fewer than ${shard.count} shards; it writes an empty table`;
}

/** "shard-2-of-3". */
export function shardTag(shard: Pick<Shard, 'index' | 'count'>): string {
  return `shard-${shard.index}-of-${shard.count}`;
}

/**
 * A shard's own name for a per-run file: `run.json` -> `run.shard-2-of-3.json`,
 * `summary.csv` -> `summary.shard-2-of-3.csv`; the name itself without a shard.
 */
export function shardFileName(name: string, shard: Pick<Shard, 'index' | 'count'> | undefined): string {
  if (!shard) return name;
  const ext = path.extname(name);
  return `${name.slice(0, name.length - ext.length)}.${shardTag(shard)}${ext}`;
}

/** The lock a shard takes in --out (shards of one run write side by side; a second copy of the same shard is refused). */
export function shardLockName(shard: Shard | undefined): string | undefined {
  return shard ? `.dnnkit.${shardTag(shard)}.lock` : undefined;
}

/** `run.shard-2-of-3.json` -> {index 2, count 3}; undefined for other names. */
export function parseShardFileName(name: string, base: string): { index: number; count: number } | undefined {
  const ext = path.extname(base);
  const stem = base.slice(0, base.length - ext.length);
  const m = new RegExp(`^${stem.replace(/\W/g, '\\$&')}\\.shard-(\\d+)-of-(\\d+)${ext.replace(/\W/g, '\\$&')}$`).exec(name);
  return m ? { index: Number(m[1]), count: Number(m[2]) } : undefined;
}

/** Whether a run record's file name is a shard's (the CLI writes report.html for merged and unsharded runs only). */
export function isShardRecordName(name: string): boolean {
  return parseShardFileName(name, 'run.json') !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Item records

export const ITEMS_DIR = 'items';
export const PLAN_JSON = 'plan.json';
const ITEM_SCHEMA = 'dnnkit-item/1';
const PLAN_SCHEMA = 'dnnkit-shard-plan/1';

/** One row of a command's table (summary.csv, predictions.csv): column -> cell. */
export type TableRow = Record<string, CsvCell>;

/** The record of one finished item: written after its files, atomically; what merge and a rerun read. */
export interface ItemRecord {
  schema: typeof ITEM_SCHEMA;
  /** The item as the table names it (image path relative to its input root; sentence number). */
  key: string;
  /** The item's output name (unique in the run; names its files and its record). */
  name: string;
  /** Settings fingerprint (see `fingerprint`): a record made with other settings is not done. */
  fingerprint: string;
  /** The item's files, relative to --out, with their byte sizes. */
  files: Record<string, number>;
  /** Its rows of the command's table. */
  rows: TableRow[];
  /** Its entries of the --json summary, file paths relative to --out. */
  entries: unknown[];
  /** Seconds the item took (also in rows where the table has a seconds column). */
  seconds: number;
}

/** SHA-256 (hex, first 16 bytes) of a JSON value: which settings produced an item. */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);
}

/** items/<name>.<tag>.json, relative to --out (`tag`: the command or method, e.g. gradcam, explain, classify). */
export function itemRecordPath(name: string, tag: string): string {
  return path.join(ITEMS_DIR, `${name}.${tag}.json`);
}

/**
 * The record of item `name` when the item is done: the record parses, has `fpr` as fingerprint,
 * and every file it lists exists with its recorded size. Otherwise undefined (the item is redone).
 */
export async function readDoneItem(outDir: string, name: string, tag: string, fpr: string): Promise<ItemRecord | undefined> {
  let rec: ItemRecord;
  try {
    rec = JSON.parse(await fsp.readFile(path.join(outDir, itemRecordPath(name, tag)), 'utf8')) as ItemRecord;
  } catch {
    return undefined;
  }
  if (rec?.schema !== ITEM_SCHEMA || rec.fingerprint !== fpr || rec.name !== name || typeof rec.files !== 'object') return undefined;
  for (const [f, bytes] of Object.entries(rec.files)) {
    const st = await fsp.stat(path.join(outDir, f)).catch(() => undefined);
    if (!st?.isFile() || st.size !== bytes) return undefined;
  }
  return rec;
}

/**
 * Writes item `name`'s record last (after its files), atomically: from then on the item is done.
 * `files` are absolute or relative to outDir; returns the record's path relative to outDir.
 */
export async function writeItemRecord(outDir: string, tag: string, item: Omit<ItemRecord, 'schema' | 'files'> & { files: readonly string[] }): Promise<string> {
  const files: Record<string, number> = {};
  for (const f of item.files) {
    const rel = path.isAbsolute(f) ? path.relative(outDir, f) : f;
    files[rel] = (await fsp.stat(path.join(outDir, rel))).size;
  }
  const record: ItemRecord = { schema: ITEM_SCHEMA, ...item, files, entries: relativePaths(item.entries, outDir) as unknown[] };
  const rel = itemRecordPath(item.name, tag);
  await writeFileAtomic(path.join(outDir, rel), JSON.stringify(record, null, 1) + '\n');
  return rel;
}

/** A JSON value with every string that is a path inside `dir` made relative to it. */
function relativePaths(value: unknown, dir: string): unknown {
  if (typeof value === 'string') return value.startsWith(dir + path.sep) ? path.relative(dir, value) : value;
  if (Array.isArray(value)) return value.map((v) => relativePaths(v, dir));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, relativePaths(v, dir)]));
  return value;
}

/** An item record's --json entries with its files' paths made absolute again (in `outDir`). */
export function entriesIn(rec: ItemRecord, outDir: string): unknown[] {
  const files = new Set(Object.keys(rec.files));
  const absolute = (value: unknown): unknown => {
    if (typeof value === 'string') return files.has(value) ? path.join(outDir, value) : value;
    if (Array.isArray(value)) return value.map(absolute);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, absolute(v)]));
    return value;
  };
  return rec.entries.map(absolute);
}

// ---------------------------------------------------------------------------------------------
// Plans: what a shard set out to do, for merge

/** One item of a plan: its table key and output name. */
export interface PlanItem {
  key: string;
  name: string;
}

/** plan.shard-K-of-N.json: written by a shard before its first item. */
export interface ShardPlan {
  schema: typeof PLAN_SCHEMA;
  /** The command as typed ("gradcam", "sst2 predict"). */
  command: string;
  /** The item-record tag (items/<name>.<tag>.json). */
  tag: string;
  /** The merged table's file name (summary.csv, predictions.csv). */
  table: string;
  fingerprint: string;
  shard: { index: number; count: number };
  /** Every item of the run (all shards), in order. */
  items: PlanItem[];
}

/** Writes a shard's plan (before its first item); returns its file name. */
export async function writePlan(outDir: string, plan: Omit<ShardPlan, 'schema'>): Promise<string> {
  const name = shardFileName(PLAN_JSON, plan.shard);
  await writeFileAtomic(path.join(outDir, name), JSON.stringify({ schema: PLAN_SCHEMA, ...plan }, null, 1) + '\n');
  return name;
}

/** The plans in `outDir`, by file name (sorted by shard count, then index). */
export async function readPlans(outDir: string): Promise<Array<{ file: string; plan: ShardPlan }>> {
  const names = (await fsp.readdir(outDir).catch(() => [] as string[])).filter((n) => parseShardFileName(n, PLAN_JSON));
  const out: Array<{ file: string; plan: ShardPlan }> = [];
  for (const file of names) {
    const plan = JSON.parse(await fsp.readFile(path.join(outDir, file), 'utf8')) as ShardPlan;
    if (plan?.schema === PLAN_SCHEMA && Array.isArray(plan.items)) out.push({ file, plan });
  }
  return out.sort((a, b) => a.plan.shard.count - b.plan.shard.count || a.plan.shard.index - b.plan.shard.index);
}

/**
 * The items of this shard that an earlier run finished (by name), read before anything is written;
 * none without a shard (an unsharded run recomputes everything, as it always did).
 */
export async function doneItems(outDir: string, items: readonly { name: string }[], tag: string, fpr: string, shard: Shard | undefined): Promise<Map<string, ItemRecord>> {
  const done = new Map<string, ItemRecord>();
  if (!shard) return done;
  for (const it of items) {
    const rec = await readDoneItem(path.resolve(outDir), it.name, tag, fpr);
    if (rec) done.set(it.name, rec);
  }
  return done;
}

/** The per-run file names of a (possibly sharded) run, and the files written so far (the plan). */
export interface ShardRunFiles {
  /** run.json or run.shard-K-of-N.json. */
  recordName: string;
  /** e.g. summary.csv or summary.shard-K-of-N.csv. */
  tableName: string;
  /** Files written by beginShardRun (the plan), relative to outDir: list them in the run record. */
  written: string[];
}

/**
 * Starts a run's writing in `outDir` (already prepared and locked): removes the records the run
 * replaces (its own run record and table; for a shard also the merged run.json, table and report,
 * which no longer describe the folder; `legacy`: older names of the unsharded record), then for a
 * shard removes temporary files left in items/ by killed runs and writes its plan. Call it after every input is checked and before the first item.
 */
export async function beginShardRun(outDir: string, run: {
  shard: Shard | undefined; command: string; tag: string; table: string; fingerprint: string; items: readonly PlanItem[]; legacy?: readonly string[];
}): Promise<ShardRunFiles> {
  const { shard } = run;
  const recordName = shardFileName('run.json', shard);
  const tableName = shardFileName(run.table, shard);
  await invalidateRunRecord(outDir, shard ? [recordName, tableName, run.table, 'report.html'] : [...(run.legacy ?? []), run.table]);
  const written: string[] = [];
  if (shard) {
    await removeStaleTemps(path.join(outDir, ITEMS_DIR)); // records half-written by a killed shard (prepareOutDir cleans --out itself)
    written.push(await writePlan(outDir, {
      command: run.command, tag: run.tag, table: run.table, fingerprint: run.fingerprint, shard: { index: shard.index, count: shard.count },
      items: run.items.map((it) => ({ key: it.key, name: it.name })),
    }));
  }
  return { recordName, tableName, written };
}

// ---------------------------------------------------------------------------------------------
// Tables

/** Columns that close every table (what it cost, what it wrote), after the method-specific ones. */
const TRAILING_COLUMNS = ['seconds', 'files'];

/**
 * The columns of `rows`: keys in order of first appearance, `seconds` and `files` last. The same
 * rows in the same order give the same columns, so a merged table equals an unsharded run's.
 */
export function tableColumns(rows: readonly TableRow[]): string[] {
  const cols: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) if (!seen.has(k)) { seen.add(k); cols.push(k); }
  return [...cols.filter((c) => !TRAILING_COLUMNS.includes(c)), ...TRAILING_COLUMNS.filter((c) => seen.has(c))];
}

/** Writes `rows` as a CSV table (atomically); cells a row lacks are empty. */
export async function writeTable(file: string, rows: readonly TableRow[]): Promise<void> {
  const cols = tableColumns(rows);
  await writeCsv(file, cols, rows.map((r) => cols.map((c) => r[c] ?? '')));
}

// ---------------------------------------------------------------------------------------------
// The option

/** --shard's help line, the same in every command that takes it. */
export const SHARD_OPTION_HELP = 'run shard K of N (1-based: 1/3, 2/3, 3/3) of the sorted items, writing beside the other shards in --out and skipping items a previous run of the shard finished; "auto" reads SLURM_ARRAY_TASK_ID/COUNT, "auto/N" JOB_COMPLETION_INDEX (Kubernetes); join with dnnkit merge (docs/SHARDING.md)';
