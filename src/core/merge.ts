/**
 * `dnnkit merge OUT`: joins the shards of a sharded run (core/shard.ts) in OUT. The shards' plans
 * name every item of the run; each item that a shard finished has its record in items/. The merge
 * writes the command's table (summary.csv, predictions.csv) from those records, in the run's item
 * order, so it equals the table of one unsharded run (the `seconds` column apart), and run.json
 * (whose listener writes report.html under the CLI). Items without a finished record are missing:
 * the result lists them with their shard, and the CLI exits 1.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { InputError } from './errors.js';
import { prepareOutDir } from './fsutil.js';
import { buildRunRecord, invalidateRunRecord, writeRunRecord } from './run_record.js';
import {
  entriesIn, itemRecordPath, parseShardFileName, readDoneItem, readPlans, shardOfItem, writeTable,
  type ItemRecord, type ShardPlan, type TableRow,
} from './shard.js';

/** An item no shard has finished. */
export interface MissingItem {
  key: string;
  name: string;
  /** The shard (1-based) that holds it, when the plans agree on the shard count; else null. */
  shard: number | null;
}

/** What merge did (the --json summary; run.json records it as `result`). */
export interface MergeResult {
  outDir: string;
  /** The command the shards ran ("gradcam", "classify", "sst2 predict"). */
  command: string;
  /** The table written, e.g. <out>/summary.csv. */
  table: string;
  /** Shard count of the plans (null when plans of different counts were merged), and the shards that started and finished. */
  shards: { count: number | null; started: string[]; finished: string[] };
  items: number;
  done: number;
  missing: MissingItem[];
  /** The --json entries of the done items, in order (file paths absolute). */
  images: unknown[];
}

/** The plan that the others must agree with, or an InputError naming the two that disagree. */
function agreedPlan(plans: Array<{ file: string; plan: ShardPlan }>): ShardPlan {
  const [first, ...rest] = plans;
  const itemsOf = (p: ShardPlan) => JSON.stringify(p.items);
  for (const other of rest) {
    const a = first.plan;
    const b = other.plan;
    const what = a.command !== b.command || a.tag !== b.tag ? `commands (${a.command} ${a.tag}, ${b.command} ${b.tag})`
      : a.fingerprint !== b.fingerprint ? 'settings'
        : itemsOf(a) !== itemsOf(b) ? `item lists (${a.items.length} and ${b.items.length} items)` : undefined;
    if (what) {
      throw new InputError(`${first.file} and ${other.file} disagree on their ${what}: run every shard with the same command, inputs and settings; remove the plan of an abandoned run, or merge into separate --out folders`);
    }
  }
  return first.plan;
}

/**
 * A command's own merge step, for tables that are not a concatenation of item rows (e.g. means
 * over all items): called after the merged table is written, with the plan, the records of the
 * done items (in the run's order) and the missing items; returns the files it wrote (relative to
 * outDir), which run.json then lists.
 */
export type MergeStep = (outDir: string, merged: { plan: ShardPlan; records: ItemRecord[]; missing: MissingItem[] }) => Promise<string[]>;

export interface MergeOptions {
  /** Extra steps by the plan's command name (e.g. { 'explain-eval': writeAucFromItems }). */
  steps?: Readonly<Record<string, MergeStep>>;
}

/** Merges the shards in `dir` (see the file comment). Throws an InputError when there is nothing to merge. */
export async function mergeShards(dir: string, opts: MergeOptions = {}): Promise<MergeResult> {
  const started = new Date();
  const st = await fsp.stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new InputError(`${dir} is not a folder; give the --out folder the shards wrote to`);
  const plans = await readPlans(dir);
  if (plans.length === 0) throw new InputError(`${dir} holds no shard plans (plan.shard-K-of-N.json): run the command with --shard K/N --out ${dir} first`);
  const plan = agreedPlan(plans);
  const outDir = await prepareOutDir(dir); // the run's own lock: one merge at a time
  const counts = [...new Set(plans.map((p) => p.plan.shard.count))];
  const count = counts.length === 1 ? counts[0] : null;
  const names = await fsp.readdir(outDir);
  const finished = names.filter((n) => parseShardFileName(n, 'run.json')).map((n) => { const s = parseShardFileName(n, 'run.json')!; return `${s.index}/${s.count}`; });
  const rows: TableRow[] = [];
  const images: unknown[] = [];
  const files: string[] = [];
  const missing: MissingItem[] = [];
  const records: ItemRecord[] = [];
  for (const [i, item] of plan.items.entries()) {
    const rec = await readDoneItem(outDir, item.name, plan.tag, plan.fingerprint);
    if (!rec) {
      missing.push({ key: item.key, name: item.name, shard: count === null ? null : shardOfItem(i, count) });
      continue;
    }
    records.push(rec);
    rows.push(...rec.rows);
    images.push(...entriesIn(rec, outDir));
    files.push(...Object.keys(rec.files), itemRecordPath(item.name, plan.tag));
  }
  await invalidateRunRecord(outDir, [plan.table]);
  await writeTable(path.join(outDir, plan.table), rows);
  const step = opts.steps?.[plan.command];
  if (step) files.push(...(await step(outDir, { plan, records, missing })));
  const result: MergeResult = {
    outDir,
    command: plan.command,
    table: path.join(outDir, plan.table),
    shards: { count, started: plans.map((p) => `${p.plan.shard.index}/${p.plan.shard.count}`), finished },
    items: plan.items.length,
    done: plan.items.length - missing.length,
    missing,
    images,
  };
  const record = buildRunRecord({ command: 'merge', started, seed: null, settings: { out: outDir, mergedCommand: plan.command, table: plan.table }, result });
  await writeRunRecord(outDir, record, [plan.table, ...files]);
  return result;
}
