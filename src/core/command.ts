/**
 * What every command shares: the common options (--out, --seed, --json, --backend, --debug),
 * option parsers that reject impossible values with a usage error, and the action wrapper that
 * turns errors into one line and an exit code, and prints the --json summary last on stdout.
 */
import { existsSync, promises as fsp } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKENDS, requestThreads, type BackendName } from './backend.js';
import { MAX_WASM_THREADS, threadsFromEnv } from './wasm_threads.js';
import { describeSystemError, exitCodeOf, InputError, UsageError } from './errors.js';
import { removePendingTemps } from './fsutil.js';
import { dropLiveLine, errColors, setOutputMode, writeLine } from './log.js';
import { writeCommandRecord } from './run_record.js';

/** Options every command accepts. */
export interface CommonOptions {
  /** Output directory (default outputs/<command>/). */
  out: string;
  /** Seed for every random choice (shuffles, initialisation, sampling). */
  seed: number;
  /** Print exactly one JSON document (the summary) on stdout instead of the readable results; progress and logs stay on stderr. */
  json: boolean;
  /** No progress or log lines on stderr (warnings and errors still show). */
  quiet?: boolean;
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

/**
 * Commands that compute with every core unless --threads or DNNKIT_WASM_THREADS says otherwise:
 * forward and backward passes of image networks, where oneDNN's threads pay (`npm run bench`,
 * docs/RESULTS.md: on 2 cores, VGG-16 inference 1.65x, ResNet-18 inference 1.49x, the
 * explainers 1.11x (Grad-CAM) to 1.48x (Score-CAM) their 1-thread speed). The training commands stay on 1 thread: MNIST's small kernels
 * and the SST-2 LSTM do not gain from threads (train-mnist --workers is its way to 2 cores).
 */
export const ALL_CORES_COMMANDS: ReadonlySet<string> = new Set(['gradcam', 'shap', 'explain', 'classify']);

/** The thread count of `command` when neither --threads nor DNNKIT_WASM_THREADS gives one. */
export function defaultThreads(command: string): number {
  return ALL_CORES_COMMANDS.has(command) ? Math.max(1, Math.min(availableParallelism(), MAX_WASM_THREADS)) : 1;
}

/** Adds the common options to a command; `name` sets the default --out. */
export function addCommonOptions(cmd: Command, name: string): Command {
  return cmd
    .option('--out <dir>', 'output directory', `outputs/${name}`)
    .option('--seed <n>', 'random seed (shuffles, initialisation, sampling)', intArg('--seed', 0, 2 ** 31 - 1), 42)
    .option('--json', 'print the result as one JSON document on stdout (progress and logs stay on stderr)', false)
    .option('--quiet', 'no progress or log lines on stderr (warnings and errors still show)', false)
    .addOption(new Option('--backend <name>', 'tfjs backend (default: best available)').choices(BACKENDS as unknown as string[]))
    .option('--threads <n>', `compute threads (oneDNN's with the native addon, else wasm's) (default: $DNNKIT_WASM_THREADS, else ${ALL_CORES_COMMANDS.has(name) ? 'every core' : '1'})`, intArg('--threads', 1, MAX_WASM_THREADS))
    .option('--debug', 'show stack traces on errors', false);
}

/** What a command's run returns when it wants `action()` to write its run.json (see `recorded`). */
export interface RunOutcome<S extends object = object> {
  readonly [OUTCOME]: true;
  /** What --json prints and run.json records as `result`. */
  summary: S;
  /** Files the run wrote, relative to `outDir`; run.json lists their bytes and SHA-256. */
  files: string[];
  /** Folder of the files and of run.json (default: --out). */
  outDir?: string;
  /** The settings the run actually used (default: the parsed options, minus output-only ones). */
  settings?: object;
}

const OUTCOME = Symbol('dnnkit.runOutcome');

/**
 * Marks a run's result for `action()`: print `summary` (--json), then write run.json in `outDir`
 * (default --out) describing `files`, with the settings, seed, backend, versions, times and memory
 * (core/run_record.ts; schema docs/run-record.schema.json).
 */
export function recorded<S extends object>(summary: S, files: string[], extra: { outDir?: string; settings?: object } = {}): RunOutcome<S> {
  return { [OUTCOME]: true, summary, files, ...extra };
}

/** Whether `x` came from `recorded`. */
export function isRunOutcome(x: unknown): x is RunOutcome {
  return typeof x === 'object' && x !== null && (x as { [OUTCOME]?: boolean })[OUTCOME] === true;
}

/** The summary of a run's return value (unwrapping `recorded`). */
export function summaryOf<S extends object>(x: S | RunOutcome<S> | void): S | undefined {
  return isRunOutcome(x) ? (x.summary as S) : (x as S | undefined) ?? undefined;
}

/** Options that only say how to print or report, not what to compute: left out of run.json's settings. */
const OUTPUT_ONLY_OPTIONS = ['json', 'quiet', 'debug', 'givenOptions'];

/** "models convert", "sst2 predict": the command's names below the program. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ') || cmd.name();
}

/**
 * Wraps a command's run: sets the output mode (--json, --quiet: core/log.ts), runs, writes run.json
 * when the run returns `recorded(...)`, prints the JSON summary (with --json) as the one document on
 * stdout, and turns errors into one red line on stderr and exit code 2 (usage) or 1 (runtime).
 * The stack is shown only with --debug.
 */
export function action<O extends CommonOptions>(run: (opts: O, args: string[]) => Promise<object | void>) {
  return async (...params: unknown[]): Promise<void> => {
    const cmd = params[params.length - 1] as Command;
    const opts = cmd.opts() as O;
    const args = cmd.args;
    setOutputMode({ json: opts.json === true, quiet: opts.quiet === true });
    try {
      const name = typeof (cmd as { name?: unknown }).name === 'function' ? commandPath(cmd) : String(process.argv[2] ?? 'dnnkit');
      resolvePackageDefaults(opts as Record<string, unknown>, cmd);
      const summary = await executeRun(name, run, opts, args);
      if (opts.json && summary) writeLine(process.stdout, JSON.stringify(summary));
    } catch (err) {
      await removePendingTemps();
      reportError(err, opts.debug);
      process.exitCode = exitCodeOf(err);
    }
  };
}

/**
 * Runs a command as the CLI and the library do: checks the environment and the output folder,
 * runs, and writes run.json when the run returns `recorded(...)`. Returns the summary; throws the
 * run's errors. Prints nothing itself.
 */
export async function executeRun<O extends Partial<CommonOptions>>(command: string, run: (opts: O, args: string[]) => Promise<object | void>, opts: O, args: string[], argv?: string[]): Promise<object | undefined> {
  const started = new Date();
  // Settings from the environment and the output folder are checked before any work.
  requestThreads(opts.threads ?? threadsFromEnv() ?? defaultThreads(command));
  await assertFolderCreatable(opts.out, '--out');
  const home = (opts as { home?: unknown }).home;
  if (typeof home === 'string') await assertFolderCreatable(home, '--home');
  else if (process.env.DNNKIT_HOME) await assertFolderCreatable(process.env.DNNKIT_HOME, 'DNNKIT_HOME');
  const returned = await run(opts, args);
  if (isRunOutcome(returned)) {
    const outDir = returned.outDir ?? opts.out;
    if (!outDir) throw new Error(`${command}: a recorded run needs an output folder`);
    const settings = returned.settings ?? Object.fromEntries(Object.entries(opts).filter(([k]) => !OUTPUT_ONLY_OPTIONS.includes(k)));
    await writeCommandRecord(outDir, { command, settings, started, result: returned.summary, seed: typeof opts.seed === 'number' ? opts.seed : null, argv }, returned.files);
  }
  return summaryOf(returned);
}

/** The package's root folder (holding package.json, data/, dist/), from this file in src/core or dist/src/core. */
export function packageRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = path.basename(path.dirname(path.dirname(here))) === 'dist' ? 3 : 2;
  return path.resolve(here, ...Array<string>(up).fill('..'));
}

/**
 * A file or folder in the package's data/ folder, as an absolute path: defaults such as the SST-2
 * folder resolve against the package, not the working directory (an `npm install -g` run from
 * anywhere). `dataPath('sst2')` = <package>/data/sst2.
 */
export function dataPath(...parts: string[]): string {
  return path.join(packageRoot(), 'data', ...parts);
}

/**
 * Options left at a default that names the package's data ('data/...') are resolved against the
 * package when the working directory has no such path (dnnkit run from another folder). A value
 * given on the command line is left as it is.
 */
export function resolvePackageDefaults(opts: Record<string, unknown>, cmd?: Command): void {
  const given = Array.isArray(opts.givenOptions) ? (opts.givenOptions as string[]) : undefined;
  for (const [key, value] of Object.entries(opts)) {
    if (typeof value !== 'string' || !/^data[/\\]/.test(value)) continue;
    const source = typeof cmd?.getOptionValueSource === 'function' ? cmd.getOptionValueSource(key) : given?.includes(key) ? 'cli' : given ? 'default' : undefined;
    if (source !== undefined && source !== 'default') continue;
    if (existsSync(value)) continue;
    const packaged = dataPath(value.replace(/^data[/\\]/, ''));
    if (existsSync(packaged)) opts[key] = packaged;
  }
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
  const c = errColors();
  dropLiveLine();
  process.stderr.write(c.red(`dnnkit: error: ${msg}`) + (known || debug ? '' : c.dim('  (run with --debug for details)')) + '\n');
  if (debug && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
}

/**
 * Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions, no
 * substring edited twice): the edits that turn `a` into `b`.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The closest of `candidates` to `typed` (at most `max`, best first): names that `typed` starts or
 * is the start of (`--patch` -> `--patches`, not `--batch`) when there are any, else the names at
 * the smallest edit distance within 40% of the typed length (at least 1). Case-insensitive; []
 * when nothing is close.
 */
export function closestNames(typed: string, candidates: readonly string[], max = 3): string[] {
  const t = typed.toLowerCase();
  const core = t.replace(/^-+/, '');
  const scored: Array<{ name: string; score: number }> = [];
  for (const name of new Set(candidates)) {
    const c = name.toLowerCase();
    const cCore = c.replace(/^-+/, '');
    if (cCore === core) continue;
    let score: number;
    if (core.length >= 2 && (cCore.startsWith(core) || core.startsWith(cCore))) score = Math.abs(cCore.length - core.length) / 100; // prefix: before any edit
    else {
      const d = editDistance(core, cCore);
      if (d > Math.max(1, Math.floor(core.length * 0.4))) continue;
      score = d;
    }
    scored.push({ name, score });
  }
  // Only the best tier: prefix matches when there are any, else the nearest by edits.
  const best = Math.min(...scored.map((s) => Math.floor(s.score)));
  return scored.filter((s) => Math.floor(s.score) === best).sort((a, b) => a.score - b.score || a.name.localeCompare(b.name)).slice(0, max).map((s) => s.name);
}

/** Marks a hidden option as another spelling of the visible option `canonical` (e.g. '--learning-rate'). */
const ALIAS_OF = Symbol('dnnkit.aliasOf');

/**
 * Adds `flag` (e.g. '--lr') as a hidden alias of the option whose long flag is `canonical` (e.g.
 * '--learning-rate'): same value parser, same attribute in opts, not shown in --help. One
 * vocabulary across commands, old spellings kept working.
 */
export function aliasOption(cmd: Command, flag: string, canonical: string): Command {
  const target = cmd.options.find((o) => o.long === canonical);
  if (!target) throw new Error(`aliasOption: ${cmd.name()} has no option ${canonical}`);
  const alias = new Option(target.required ? `${flag} <value>` : target.optional ? `${flag} [value]` : flag, `alias of ${canonical}`).hideHelp();
  const parse = (target as unknown as { parseArg?: (v: string, prev: unknown) => unknown }).parseArg;
  if (parse) alias.argParser(parse);
  const attribute = target.attributeName();
  alias.attributeName = () => attribute;
  (alias as unknown as Record<symbol, string>)[ALIAS_OF] = canonical;
  return cmd.addOption(alias);
}

/**
 * One vocabulary (issue 14): the name every command shows for a concept, then the other spellings
 * commands were written with. `applyVocabulary` shows the first and keeps the others as hidden
 * aliases, so a module that declares `--lr` still reads `opts.lr` while --help says
 * `--learning-rate`.
 */
export const VOCABULARY: readonly (readonly string[])[] = [
  ['--learning-rate', '--lr'],
  ['--batch-size', '--batch'],
];

/**
 * Shows option `from` (e.g. '--lr <x>') of `cmd` as `to` ('--learning-rate'): a visible option
 * with the same description, default, choices and parser that stores into the same attribute,
 * in the same place in --help; `from` stays as a hidden alias.
 */
export function renameOption(cmd: Command, from: string, to: string): void {
  const index = cmd.options.findIndex((o) => o.long === from);
  if (index < 0 || cmd.options.some((o) => o.long === to)) return;
  const old = cmd.options[index];
  if (!old.required && !old.optional) return; // flags without a value are not renamed
  const shown = new Option(`${to} ${old.flags.split(/\s+/).slice(-1)[0]}`, old.description);
  const parse = (old as unknown as { parseArg?: (v: string, prev: unknown) => unknown }).parseArg;
  if (parse) {
    // The parser names the old flag in its messages: name the one the user typed.
    shown.argParser((v: string, prev: unknown) => {
      try {
        return parse(v, prev);
      } catch (err) {
        if (err instanceof Error) err.message = err.message.split(from).join(to);
        throw err;
      }
    });
  }
  if (old.argChoices) shown.choices(old.argChoices);
  if (old.defaultValue !== undefined) shown.default(old.defaultValue, old.defaultValueDescription);
  if (old.mandatory) shown.makeOptionMandatory();
  const attribute = old.attributeName();
  shown.attributeName = () => attribute;
  old.hidden = true;
  (old as unknown as Record<symbol, string>)[ALIAS_OF] = to;
  cmd.addOption(shown);
  const options = cmd.options as Option[];
  options.splice(options.indexOf(shown), 1);
  options.splice(index, 0, shown);
}

/** Applies VOCABULARY to every command of `program`. */
export function applyVocabulary(program: Command): void {
  const walk = (c: Command) => {
    for (const [name, ...others] of VOCABULARY) for (const o of others) renameOption(c, o, name);
    c.commands.forEach(walk);
  };
  walk(program);
}

/**
 * Long flags a user may mean over `cmd` and its non-positional ancestors: spelling -> the name to
 * suggest (a hidden alias suggests its canonical name; other hidden options are left out).
 */
function candidateFlags(cmd: Command): Map<string, string> {
  const out = new Map<string, string>();
  for (let c: Command | null = cmd; c; c = c.parent) {
    for (const o of c.options) {
      const canonical = (o as unknown as Record<symbol, string | undefined>)[ALIAS_OF];
      if (canonical && o.long) out.set(o.long, canonical);
      else if (!o.hidden && o.long) out.set(o.long, o.long);
    }
    out.set('--help', '--help');
    if ((c as unknown as { _enablePositionalOptions?: boolean })._enablePositionalOptions) break;
  }
  return out;
}

/**
 * commander's Command with dnnkit's "did you mean": an unknown option gets the closest of the
 * command's own options (prefixes first, then edit distance; see closestNames) on the same line.
 * Subcommands are made of the same class.
 */
export class DnnkitCommand extends Command {
  override createCommand(name?: string): Command {
    return new DnnkitCommand(name);
  }

  /** Called by commander for an unknown option (not in its typings). */
  unknownOption(flag: string): void {
    if ((this as unknown as { _allowUnknownOption?: boolean })._allowUnknownOption) return;
    const spellings = candidateFlags(this);
    const near = flag.startsWith('--') ? [...new Set(closestNames(flag.split('=')[0], [...spellings.keys()]).map((n) => spellings.get(n)!))] : [];
    const hint = near.length ? ` (did you mean ${near.join(' or ')}?)` : '';
    this.error(`error: unknown option '${flag}'${hint}`, { code: 'commander.unknownOption' });
  }
}
