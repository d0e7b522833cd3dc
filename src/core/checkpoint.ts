/**
 * The checkpoint of an interrupted training run, one helper for every command (as nanoGPT keeps
 * its checkpoint one object saved in one place). A checkpoint is the folder <out>/checkpoint/
 * holding the command's payload files (weights, optimizer state) and state.json: the command's
 * counters, random-generator states and metrics so far, plus `payload`, the byte size and SHA-256
 * of every payload file. It is one unit on disk:
 *
 * - It is written whole into a fresh temporary folder (`.dnnkit-tmp-<pid>-<n>-checkpoint`),
 *   flushed to disk and renamed `checkpoint.new`; then `checkpoint` is renamed `checkpoint.old`,
 *   `checkpoint.new` is renamed `checkpoint`, and `checkpoint.old` is removed. A kill at any
 *   moment leaves at least one complete checkpoint under one of these three names, and
 *   readCheckpoint takes the newest (`.new`, then `checkpoint`, then `.old`) and puts it in place.
 * - readCheckpoint refuses payload files whose size or SHA-256 differ from what their state.json
 *   records (new weights beside an old state), with one line saying so.
 *
 * Checkpoints written before `payload` existed are read without that check.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { InputError, UsageError } from './errors.js';
import { fileDigest, lockOutDir, syncPath, tempPathFor, trackPendingTemp, writeFileAtomic } from './fsutil.js';

export const CHECKPOINT_DIR = 'checkpoint';
export const STATE_JSON = 'state.json';
const NEWER = `${CHECKPOINT_DIR}.new`;
const OLDER = `${CHECKPOINT_DIR}.old`;
/** The names a checkpoint can have, newest first (see the swap above). */
const NAMES = [NEWER, CHECKPOINT_DIR, OLDER] as const;

/** What state.json records of one payload file. */
export interface PayloadEntry {
  bytes: number;
  sha256: string;
}

/** The points between the steps of writeCheckpoint (tests stop it there, as a kill would). */
export type CheckpointStep = 'staged' | 'published' | 'old-moved' | 'swapped';

const HINT = 'start the run again with --restart';

async function isDir(p: string): Promise<boolean> {
  return (await fsp.stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

/** Removes a folder so that no half-removed copy is ever left under its name: rename, then delete. */
async function discard(dir: string): Promise<void> {
  if (!(await isDir(dir))) return;
  const gone = tempPathFor(dir);
  await fsp.rename(dir, gone);
  await fsp.rm(gone, { recursive: true, force: true });
}

/**
 * Writes a checkpoint into `outDir`: `writePayload(dir)` writes the payload files into a fresh
 * folder, then state.json (`state` plus the payload's sizes and SHA-256) is added and the folder
 * replaces the previous checkpoint as described at the top. Returns the checkpoint's path.
 */
export async function writeCheckpoint(outDir: string, state: object, writePayload: (dir: string) => Promise<void>,
  onStep?: (step: CheckpointStep) => void | Promise<void>): Promise<string> {
  const at = (name: string) => path.join(outDir, name);
  const staging = tempPathFor(at(CHECKPOINT_DIR));
  const untrack = trackPendingTemp(staging);
  try {
    await fsp.mkdir(staging, { recursive: true });
    await writePayload(staging);
    const payload: Record<string, PayloadEntry> = {};
    for (const name of (await fsp.readdir(staging)).sort()) {
      if (name === STATE_JSON) continue;
      await syncPath(path.join(staging, name));
      payload[name] = await fileDigest(path.join(staging, name));
    }
    await writeFileAtomic(path.join(staging, STATE_JSON), JSON.stringify({ ...state, payload }), { sync: true });
    await onStep?.('staged');
    await discard(at(NEWER)); // a leftover older than what was just staged
    await fsp.rename(staging, at(NEWER));
  } catch (err) {
    await fsp.rm(staging, { recursive: true, force: true });
    throw err;
  } finally {
    untrack();
  }
  await syncPath(outDir);
  await onStep?.('published');
  await discard(at(OLDER));
  if (await isDir(at(CHECKPOINT_DIR))) await fsp.rename(at(CHECKPOINT_DIR), at(OLDER));
  await onStep?.('old-moved');
  await fsp.rename(at(NEWER), at(CHECKPOINT_DIR));
  await syncPath(outDir);
  await onStep?.('swapped');
  await discard(at(OLDER));
  return at(CHECKPOINT_DIR);
}

/** The name of the newest checkpoint folder in `outDir` (see NAMES), or undefined. */
async function newestCheckpoint(outDir: string): Promise<(typeof NAMES)[number] | undefined> {
  for (const name of NAMES) if (await isDir(path.join(outDir, name))) return name;
  return undefined;
}

/** True when `outDir` holds a checkpoint (under any of its names). */
export async function hasCheckpoint(outDir: string): Promise<boolean> {
  return (await newestCheckpoint(outDir)) !== undefined;
}

/** Removes the checkpoint (all its names) from `outDir`: after a finished run, or with --restart. */
export async function removeCheckpoint(outDir: string): Promise<void> {
  for (const name of NAMES) await discard(path.join(outDir, name));
}

/**
 * Before a run without --resume writes into `outDir`: refuses when it holds an interrupted run's
 * checkpoint, naming --resume and --restart, or with `restart` removes it. `outArg` is --out as
 * given; `command` names the command in the message ("train-mnist", "dnnkit sst2").
 */
export async function refuseOrDiscardCheckpoint(outDir: string, opts: { outArg: string; command: string; restart?: boolean }): Promise<void> {
  if (!(await hasCheckpoint(outDir))) return;
  if (!opts.restart) {
    throw new UsageError(`--out ${opts.outArg} holds the checkpoint of an interrupted ${opts.command} run; continue it with --resume ${opts.outArg}, or add --restart to discard it and start over`);
  }
  await removeCheckpoint(outDir);
}

/** The run folder of a --resume argument: the folder itself, or the parent of a checkpoint folder. */
export function resumeOutDir(arg: string): string {
  const abs = path.resolve(arg);
  return (NAMES as readonly string[]).includes(path.basename(abs)) ? path.dirname(abs) : abs;
}

/** Refuses payload files that differ from what state.json records (`payload` undefined: an old checkpoint, not checked). */
async function checkPayload(arg: string, dir: string, payload: unknown): Promise<void> {
  if (payload === undefined) return;
  const shown = (name: string) => path.join(path.basename(dir), name);
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new InputError(`--resume ${arg}: ${shown(STATE_JSON)} has no valid "payload" record; the checkpoint is damaged or was edited: ${HINT}`);
  }
  for (const [name, entry] of Object.entries(payload as Record<string, PayloadEntry>)) {
    if (name !== path.basename(name) || name === '..' || typeof entry?.sha256 !== 'string' || typeof entry?.bytes !== 'number') {
      throw new InputError(`--resume ${arg}: ${shown(STATE_JSON)} has an invalid payload entry '${name}'; the checkpoint is damaged or was edited: ${HINT}`);
    }
    const got = await fileDigest(path.join(dir, name)).catch(() => undefined);
    if (!got) throw new InputError(`--resume ${arg}: ${shown(name)} is missing or unreadable; the checkpoint is incomplete: ${HINT}`);
    if (got.bytes !== entry.bytes || got.sha256 !== entry.sha256) {
      throw new InputError(`--resume ${arg}: ${shown(name)} does not match its ${STATE_JSON} (${got.bytes} bytes, SHA-256 ${got.sha256.slice(0, 12)}, where it records ${entry.bytes} bytes, ${entry.sha256.slice(0, 12)}); the checkpoint is torn or damaged: ${HINT}`);
    }
  }
}

/**
 * Reads the checkpoint of the run whose --out is `arg` (or `arg` is its checkpoint folder): takes
 * the newest complete checkpoint a kill may have left mid-swap and puts it back in place, checks
 * every payload file against state.json, and returns state.json without its payload record.
 * `command` names the command in errors ("train-mnist", "dnnkit sst2").
 */
export async function readCheckpoint(arg: string, command: string): Promise<{ outDir: string; dir: string; state: Record<string, unknown> }> {
  const outDir = resumeOutDir(arg);
  const missing = () => new InputError(`--resume ${arg}: no readable ${path.join(CHECKPOINT_DIR, STATE_JSON)} there; give the --out folder of an interrupted ${command} run`);
  const found = await newestCheckpoint(outDir);
  if (!found) throw missing();
  // Nothing may write here while the checkpoint is checked and put in place (released at exit).
  await lockOutDir(outDir).catch((err) => {
    if (err instanceof UsageError) throw err; // another dnnkit is writing there
    // A folder we cannot write to: the run's own --out check reports it.
  });
  let state: Record<string, unknown>;
  try {
    state = JSON.parse(await fsp.readFile(path.join(outDir, found, STATE_JSON), 'utf8'));
  } catch {
    throw missing();
  }
  if (typeof state !== 'object' || state === null || Array.isArray(state)) throw missing();
  await checkPayload(arg, path.join(outDir, found), state.payload);
  // Put the checkpoint found in place and remove the others (every step leaves a complete one).
  if (found !== CHECKPOINT_DIR) {
    if (await isDir(path.join(outDir, CHECKPOINT_DIR))) {
      await discard(path.join(outDir, OLDER));
      await fsp.rename(path.join(outDir, CHECKPOINT_DIR), path.join(outDir, OLDER));
    }
    await fsp.rename(path.join(outDir, found), path.join(outDir, CHECKPOINT_DIR));
    await syncPath(outDir);
  }
  await discard(path.join(outDir, NEWER));
  await discard(path.join(outDir, OLDER));
  const { payload: _payload, ...rest } = state;
  return { outDir, dir: path.join(outDir, CHECKPOINT_DIR), state: rest };
}

/**
 * Checks the fields of a checkpoint's state.json before a run trusts them (a hand-edited
 * `"epoch": -3` must not start a run); errors name the file, the field and its value.
 */
export class StateChecker {
  constructor(private readonly file: string, private readonly state: Record<string, unknown>) {}

  /** The value at a dotted path (`partial.seen`). */
  value(field: string): unknown {
    return field.split('.').reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), this.state);
  }

  fail(field: string, expected: string): never {
    const v = this.value(field);
    throw new InputError(`${this.file}: "${field}" is ${v === undefined ? 'missing' : JSON.stringify(v)}, expected ${expected}; the checkpoint is damaged or was edited: ${HINT}`);
  }

  /** A whole number in [min, max]. */
  int(field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.value(field);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      this.fail(field, max === Number.MAX_SAFE_INTEGER ? `a whole number >= ${min}` : `a whole number from ${min} to ${max}`);
    }
    return v;
  }

  /** A finite number in [min, max]. */
  number(field: string, min = -Number.MAX_VALUE, max = Number.MAX_VALUE): number {
    const v = this.value(field);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      this.fail(field, max === Number.MAX_VALUE ? (min === -Number.MAX_VALUE ? 'a finite number' : `a finite number >= ${min}`) : `a number from ${min} to ${max}`);
    }
    return v;
  }

  /** A random generator's state: a 32-bit integer. */
  rngState(field: string): number {
    return this.int(field, -(2 ** 31), 2 ** 32 - 1);
  }

  /** An array, of exactly `length` items when given. */
  array(field: string, length?: number): unknown[] {
    const v = this.value(field);
    if (!Array.isArray(v) || (length !== undefined && v.length !== length)) this.fail(field, length === undefined ? 'a list' : `a list of ${length}`);
    return v;
  }

  /** An object (a settings record). */
  object(field: string): Record<string, unknown> {
    const v = this.value(field);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, 'an object');
    return v as Record<string, unknown>;
  }
}

/**
 * Options that may be given with --resume whatever the checkpoint holds: they change how a run
 * reports or where it computes, not what it computes.
 */
export const RESUME_SAFE_OPTIONS: readonly string[] = ['resume', 'json', 'debug', 'backend', 'threads', 'quiet'];

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const shownValue = (v: unknown) => (v === undefined || v === null ? 'unset' : typeof v === 'string' ? v : JSON.stringify(v));
const optionText = (name: string, v: unknown) => (typeof v === 'boolean' ? (v ? `--${kebab(name)}` : `--no-${kebab(name)}`) : `--${kebab(name)} ${shownValue(v)}`);

/**
 * A run continues with its checkpoint's settings, so options given together with --resume that
 * differ from them would be ignored: refuses them (and --restart) with a usage error naming each.
 * `given`: the options set on the command line (camelCase names); undefined when called from code
 * (then only --restart is checked). `saved`: the checkpoint's settings; `outDir`: the run's folder.
 */
export function checkResumeOptions(arg: string, given: readonly string[] | undefined, cliOpts: Record<string, unknown>,
  saved: Record<string, unknown>, outDir: string): void {
  if (cliOpts.restart) {
    throw new UsageError(`--resume and --restart cannot be combined: --resume ${arg} continues the interrupted run, --restart (without --resume) discards it and starts over`);
  }
  const conflicts: string[] = [];
  for (const name of new Set(given ?? [])) {
    if (RESUME_SAFE_OPTIONS.includes(name)) continue;
    if (name === 'out') {
      if (path.resolve(String(cliOpts.out)) !== outDir) conflicts.push(`--out ${shownValue(cliOpts.out)} (checkpoint: ${outDir})`);
    } else if (JSON.stringify(cliOpts[name]) !== JSON.stringify(saved[name])) {
      conflicts.push(`${optionText(name, cliOpts[name])} (checkpoint: ${shownValue(saved[name])})`);
    }
  }
  if (conflicts.length > 0) {
    throw new UsageError(`--resume ${arg} continues with the checkpoint's settings: ${conflicts.join(', ')} cannot change; remove ${conflicts.length > 1 ? 'them' : 'it'}, or start a new run without --resume`);
  }
}
