/**
 * What every command shares: the common options (--out, --seed, --json, --backend, --debug),
 * option parsers that reject impossible values with a usage error, and the action wrapper that
 * turns errors into one line and an exit code, and prints the --json summary last on stdout.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import chalk from 'chalk';
import { BACKENDS, requestThreads, type BackendName } from './backend.js';
import { MAX_WASM_THREADS, threadsFromEnv } from './wasm_threads.js';
import { describeSystemError, exitCodeOf, InputError, UsageError } from './errors.js';
import { removePendingTemps } from './fsutil.js';

/** Options every command accepts. */
export interface CommonOptions {
  /** Output directory (default outputs/<command>/). */
  out: string;
  /** Seed for every random choice (shuffles, initialisation, sampling). */
  seed: number;
  /** Print one JSON summary object on stdout as the last line; human output stays on stderr. */
  json: boolean;
  /** Backend to compute with; undefined = best available. */
  backend?: BackendName;
  /** Show stack traces. */
  debug: boolean;
  /** Threads of the wasm backend (default: DNNKIT_WASM_THREADS, else 1). */
  threads?: number;
}

/** Parses an integer option within [min, max]. */
export function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^[-+]?\d+(e\+?\d+)?$/i.test(value.trim()) || !Number.isSafeInteger(n)) {
      throw new InvalidArgumentError(`${name} must be a whole number, got '${value}'`);
    }
    if (n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${value}`);
    }
    return n;
  };
}

/** Parses a finite number option within [min, max] (exclusive bounds when asked). */
export function floatArg(name: string, min: number, max: number, opts: { minExclusive?: boolean; maxExclusive?: boolean } = {}) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) {
      throw new InvalidArgumentError(`${name} must be a finite number, got '${value}'`);
    }
    const lowOk = opts.minExclusive ? n > min : n >= min;
    const highOk = opts.maxExclusive ? n < max : n <= max;
    if (!lowOk || !highOk) {
      const range = `${opts.minExclusive ? '(' : '['}${min}, ${max}${opts.maxExclusive ? ')' : ']'}`;
      throw new InvalidArgumentError(`${name} must be in ${range}, got ${value}`);
    }
    return n;
  };
}

/** Adds the common options to a command; `name` sets the default --out. */
export function addCommonOptions(cmd: Command, name: string): Command {
  return cmd
    .option('--out <dir>', 'output directory', `outputs/${name}`)
    .option('--seed <n>', 'random seed (shuffles, initialisation, sampling)', intArg('--seed', 0, 2 ** 31 - 1), 42)
    .option('--json', 'print a JSON summary on stdout as the last line', false)
    .addOption(new Option('--backend <name>', 'tfjs backend (default: best available)').choices(BACKENDS as unknown as string[]))
    .option('--threads <n>', `threads of the wasm backend (default: $DNNKIT_WASM_THREADS or 1)`, intArg('--threads', 1, MAX_WASM_THREADS))
    .option('--debug', 'show stack traces on errors', false);
}

/**
 * Wraps a command's run: prints the JSON summary (with --json), turns errors into one red line
 * on stderr and exit code 2 (usage) or 1 (runtime). The stack is shown only with --debug.
 */
export function action<O extends CommonOptions>(run: (opts: O, args: string[]) => Promise<object | void>) {
  return async (...params: unknown[]): Promise<void> => {
    const cmd = params[params.length - 1] as Command;
    const opts = cmd.opts() as O;
    const args = cmd.args;
    try {
      // Settings from the environment and the output folder are checked before any work.
      if (opts.threads === undefined) threadsFromEnv();
      requestThreads(opts.threads);
      await assertFolderCreatable(opts.out, '--out');
      const home = (opts as { home?: unknown }).home;
      if (typeof home === 'string') await assertFolderCreatable(home, '--home');
      else if (process.env.DNNKIT_HOME) await assertFolderCreatable(process.env.DNNKIT_HOME, 'DNNKIT_HOME');
      const summary = await run(opts, args);
      if (opts.json && summary) process.stdout.write(JSON.stringify(summary) + '\n');
    } catch (err) {
      await removePendingTemps();
      reportError(err, opts.debug);
      process.exitCode = exitCodeOf(err);
    }
  };
}

/**
 * Kernel file systems that hold no user files (Linux statfs f_type magic numbers). On procfs,
 * mkdir of a new name answers ENOENT though the parent exists, and Node's recursive mkdir then
 * retries the parent and the child forever (strace: mkdir("/proc/x") ENOENT, mkdir("/proc")
 * EEXIST, repeated): `--out /proc/x` hung.
 */
const VIRTUAL_FILE_SYSTEMS: Record<number, string> = { 0x9fa0: 'proc', 0x62656572: 'sysfs', 0x1cd1: 'devpts', 0x73636673: 'securityfs', 0x64626720: 'debugfs' };

/**
 * Throws a UsageError when the folder `dir` (given by `source`: '--out', 'DNNKIT_HOME') lies on a
 * kernel file system, judged by its nearest existing ancestor. Reads only; creates nothing.
 */
export async function assertFolderCreatable(dir: unknown, source: string): Promise<void> {
  if (typeof dir !== 'string' || dir === '') return;
  let probe = path.resolve(dir);
  while (!(await fsp.stat(probe).then(() => true, () => false))) {
    const parent = path.dirname(probe);
    if (parent === probe) return;
    probe = parent;
  }
  const kind = VIRTUAL_FILE_SYSTEMS[(await fsp.statfs(probe).catch(() => undefined))?.type ?? -1];
  if (kind) {
    throw new UsageError(`${source} ${dir} is on a kernel file system (${kind} at ${probe}) where dnnkit cannot create folders or files; choose a folder on a disk`);
  }
}

/** Prints an error as one line (plus the stack with debug); system errors name the file and what to do. */
export function reportError(err: unknown, debug: boolean): void {
  const system = describeSystemError(err);
  const known = err instanceof UsageError || err instanceof InputError || system !== undefined;
  const msg = system ?? (err instanceof Error ? err.message.split('\n')[0] : String(err));
  process.stderr.write(chalk.red(`dnnkit: error: ${msg}`) + (known || debug ? '' : chalk.dim('  (run with --debug for details)')) + '\n');
  if (debug && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
}
