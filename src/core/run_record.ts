/**
 * run.json, the record of a finished run: its settings, backend, versions and results, and the
 * byte size and SHA-256 of every output file it describes (`files`). A run that writes into an
 * --out holding a previous run's record removes that record before it writes anything else, and
 * writes its own last, so that at any moment run.json either describes the files beside it or
 * does not exist (a kill mid-run leaves no record claiming another run's accuracy).
 */
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { currentBackend } from './backend.js';
import { fileDigest, syncPath, writeFileAtomic } from './fsutil.js';
import { outputMode } from './log.js';

export const RUN_JSON = 'run.json';

/**
 * Removes the previous run's record from `outDir` (run.json and `others`, e.g. a summary that
 * describes the same files), before a new run writes its outputs there.
 */
export async function invalidateRunRecord(outDir: string, others: readonly string[] = []): Promise<void> {
  let removed = false;
  for (const name of [RUN_JSON, ...others]) {
    const file = path.join(outDir, name);
    if (await fsp.stat(file).catch(() => undefined)) {
      await fsp.rm(file, { force: true });
      removed = true;
    }
  }
  if (removed) await syncPath(outDir);
}

/**
 * Writes `name` (default run.json) in `outDir` last: `record` plus `files`, the byte size and
 * SHA-256 of each output (paths relative to outDir) that exists, flushed to disk first.
 */
/** Called after a run record is written: (folder, record file name). */
export type RunRecordListener = (outDir: string, name: string) => Promise<void>;
const listeners: RunRecordListener[] = [];

/**
 * Runs `listener` after every run record written from now on (the CLI writes report.html so);
 * a listener's failure is reported as a warning on stderr and never fails the finished run.
 */
export function afterRunRecord(listener: RunRecordListener): void {
  listeners.push(listener);
}

export async function writeRunRecord(outDir: string, record: object, files: readonly string[], name = RUN_JSON): Promise<void> {
  await writeRecordFile(outDir, record, files, name);
  for (const listener of listeners) {
    await listener(outDir, name).catch((err: Error) => process.stderr.write(`dnnkit: warning: after writing ${path.join(outDir, name)}: ${err.message.split('\n')[0]}\n`));
  }
}

async function writeRecordFile(outDir: string, record: object, files: readonly string[], name: string): Promise<void> {
  const digests: Record<string, { bytes: number; sha256: string }> = {};
  for (const f of [...new Set(files)].sort()) {
    if (!(await fsp.stat(path.join(outDir, f)).catch(() => undefined))?.isFile()) continue; // an output this run did not write
    await syncPath(path.join(outDir, f));
    digests[f] = await fileDigest(path.join(outDir, f));
  }
  await writeFileAtomic(path.join(outDir, name), JSON.stringify({ ...record, files: digests }, null, 2) + '\n', { sync: true });
}

// ---------------------------------------------------------------------------------------------
// One record for every command (issue 14, item 2). The schema is docs/run-record.schema.json;
// `action()` in command.ts writes it for commands that return `recorded(summary, files)`, and a
// command that writes its record itself builds it with `buildRunRecord` and passes it to
// `writeRunRecord` (which adds `files`).

/** Version of the run.json layout below; bumped when a field changes meaning. */
export const RUN_RECORD_VERSION = 1;

/** The backend a run computed with. */
export interface RunRecordBackend {
  /** dnnkit's name: node | wasm | cpu. */
  name: string;
  /** tfjs's name for it. */
  tfjsName: string;
  /** Kernels dnnkit registered (project kernels) and those computed by the native addon. */
  kernels: { project: string[]; native: string[] };
  threads: number;
  simd: boolean;
  /** Replicas that computed each training step, this thread included (train-mnist --workers); absent for commands without them. */
  workers?: number;
}

/** run.json: what ran, with what, when, and what it produced. */
export interface RunRecord {
  schemaVersion: typeof RUN_RECORD_VERSION;
  /** dnnkit's version (package.json). */
  dnnkit: string;
  /** The command, e.g. "train-mnist", "models convert", "sst2 predict"; the library function's name for library calls. */
  command: string;
  /** The command-line arguments after `dnnkit` ([] for a library call). */
  argv: string[];
  /** The settings the run actually used (defaults resolved). */
  settings: Record<string, unknown>;
  /** The seed of every random choice, or null for a deterministic command. */
  seed: number | null;
  /** The backend, or null when the command computed nothing with tfjs. */
  backend: RunRecordBackend | null;
  /** Versions of node and the libraries that computed the result. */
  versions: Record<string, string>;
  /** ISO 8601 start and end times. */
  started: string;
  ended: string;
  wallSeconds: number;
  /** Peak resident set size of the process, bytes. */
  peakRssBytes: number;
  /** The same summary that --json prints. */
  result: unknown;
}

/** What a command knows of its run; the rest (versions, backend, times, memory) is filled in. */
export interface RunRecordInput {
  command: string;
  settings: object;
  result: unknown;
  /** When the run started (for wallSeconds). */
  started: Date;
  seed?: number | null;
  /** Default: the process's arguments under the CLI, [] otherwise. */
  argv?: string[];
  /** Default: now. */
  ended?: Date;
  /** Data-parallel replicas of a training command (backend.workers); omitted for others. */
  workers?: number;
}

let versionCache: string | undefined;

/** dnnkit's version from its package.json (found from this file in src/ or dist/src/). */
export function dnnkitVersion(): string {
  if (versionCache) return versionCache;
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'dnnkit' && pkg.version) return (versionCache = pkg.version);
    } catch { /* try the next */ }
  }
  return (versionCache = '0.0.0-unknown');
}

/** Versions of node and the tfjs packages in use. */
export function libraryVersions(): Record<string, string> {
  const v: Record<string, string> = { node: process.version };
  for (const [k, val] of Object.entries(tf.version)) v[`@tensorflow/${k}`] = val;
  const req = createRequire(import.meta.url);
  for (const name of ['@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-node']) {
    try {
      const main = req.resolve(name);
      let dir = path.dirname(main);
      while (dir !== path.dirname(dir) && !existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) v[name] = pkg.version;
    } catch { /* not installed */ }
  }
  return v;
}

/** Plain JSON copy of the settings (undefined dropped, functions and symbols left out). */
function plainSettings(settings: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(settings ?? {})) as Record<string, unknown>;
}

/** The record of a run (without `files`, which writeRunRecord adds). */
export function buildRunRecord(input: RunRecordInput): RunRecord {
  const ended = input.ended ?? new Date();
  const b = currentBackend();
  const settings = plainSettings(input.settings);
  const seed = input.seed !== undefined ? input.seed : typeof settings.seed === 'number' ? settings.seed : null;
  return {
    schemaVersion: RUN_RECORD_VERSION,
    dnnkit: dnnkitVersion(),
    command: input.command,
    argv: input.argv ?? (outputMode() ? process.argv.slice(2) : []),
    settings,
    seed,
    backend: b ? { name: b.name, tfjsName: b.tfjsName, kernels: { project: b.projectKernels, native: b.nativeKernels }, threads: b.threads, simd: b.simd, ...(input.workers !== undefined ? { workers: input.workers } : {}) } : null,
    versions: libraryVersions(),
    started: input.started.toISOString(),
    ended: ended.toISOString(),
    wallSeconds: (ended.getTime() - input.started.getTime()) / 1000,
    // resourceUsage().maxRSS is in kilobytes.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    result: JSON.parse(JSON.stringify(input.result ?? null)) as unknown,
  };
}

/** Builds the record of a run and writes it as run.json in `outDir` (last), with its files' digests. */
export async function writeCommandRecord(outDir: string, input: RunRecordInput, files: readonly string[]): Promise<RunRecord> {
  const record = buildRunRecord(input);
  await writeRunRecord(outDir, record, files);
  return record;
}

/**
 * One row of a trainer's metrics.csv: a finished epoch's training metrics (means over its
 * batches, dropout on) and the metrics of its held-out split, whose name `Split` prefixes those
 * columns (train-mnist: `val`, validation images; sst2: `dev`, the dev sentences). The one
 * definition for both trainers; checkpoints store these rows as they are.
 */
export type EpochMetrics<Split extends string = 'val'> = {
  /** 1-based. */
  epoch: number;
  /** Mean training loss and accuracy over the epoch. */
  loss: number;
  acc: number;
  /** Training time of the epoch (not evaluation), seconds. */
  seconds: number;
  /** train-mnist: training images per second in the epoch. */
  samples_per_sec?: number;
  /** sst2 --early-stopping network: each network's own dev accuracy (null once it has stopped training). */
  networks?: (number | null)[];
} & {
  /** Held-out loss and accuracy; null when there is no held-out split (train-mnist --validation-split 0). */
  [K in `${Split}_loss` | `${Split}_acc`]: number | null;
};

