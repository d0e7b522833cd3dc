/**
 * Where output goes (issue 14, item 1):
 *   stdout  results: a readable table / lines for people, or, with --json, exactly one JSON
 *           document (printed by `action()` in command.ts) and nothing else;
 *   stderr  progress and logs, with or without --json; --quiet silences them (warnings and errors
 *           still show).
 * Colours follow NO_COLOR and FORCE_COLOR, decided per stream (a piped stdout gets no colour
 * while a terminal's stderr does). Every write to stderr or stdout goes through `writeLine`, which
 * first clears a live progress bar's line (progress.ts redraws it below), so no summary line is
 * overwritten and no stale bar is left.
 *
 * The CLI sets the output mode (`setOutputMode`) before it runs a command. Without it (the
 * library, tests calling `run` directly), a logger or progress bar asked to be quiet prints
 * nothing at all.
 */
import { Chalk, type ChalkInstance } from 'chalk';

/** How the CLI was asked to print. */
export interface OutputMode {
  /** --json: stdout carries only the JSON summary; result lines go to stderr as logs. */
  json: boolean;
  /** --quiet: no logs or progress on stderr (warnings and errors still show). */
  quiet: boolean;
}

let mode: OutputMode | undefined;

/** Sets (or, with undefined, clears) the CLI's output mode; `action()` calls it. */
export function setOutputMode(m: OutputMode | undefined): void {
  mode = m;
}

/** The CLI's output mode, or undefined outside the CLI. */
export function outputMode(): OutputMode | undefined {
  return mode;
}

/**
 * Whether logs and progress are silent. `requested` is what the caller asked for; modules written
 * before issue 14 pass `opts.json` there, so under the CLI a request is honoured only without
 * --json (with --json, progress and logs still go to stderr) and --quiet always silences.
 */
export function isSilent(requested?: boolean): boolean {
  if (!mode) return requested === true;
  return mode.quiet || (requested === true && !mode.json);
}

type Stream = Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean };

/**
 * Colour level for a stream: FORCE_COLOR wins (0/false = off, 1-3 or empty/true = on), then
 * NO_COLOR (any non-empty value = off; https://no-color.org), then whether the stream is a
 * terminal (and TERM is not "dumb").
 */
export function colorLevel(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): 0 | 1 | 2 | 3 {
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '' || force === 'true') return 1;
    if (force === 'false') return 0;
    const n = Number.parseInt(force, 10);
    if (Number.isFinite(n)) return Math.max(0, Math.min(3, n)) as 0 | 1 | 2 | 3;
  }
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  if (!stream.isTTY || env.TERM === 'dumb') return 0;
  return 1 + (/-256(colou?r)?$/i.test(env.TERM ?? '') || env.COLORTERM ? 1 : 0) as 1 | 2;
}

const painters = new WeakMap<object, ChalkInstance>();

/** A chalk for `stream` with its colour level (decided once per stream). */
export function colorsFor(stream: Stream): ChalkInstance {
  let c = painters.get(stream);
  if (!c) {
    c = new Chalk({ level: colorLevel(stream) });
    painters.set(stream, c);
  }
  return c;
}

/** Colours for stderr (logs, progress, errors). */
export function errColors(): ChalkInstance {
  return colorsFor(process.stderr);
}

/** Colours for stdout (results). */
export function outColors(): ChalkInstance {
  return colorsFor(process.stdout);
}

/** A live terminal line (the progress bar) that must be cleared before other output and redrawn after. */
export interface LiveLine {
  clear(): void;
  redraw(): void;
}

let live: LiveLine | undefined;

/** Registers (or, with undefined, removes) the live line; progress.ts calls it. */
export function setLiveLine(line: LiveLine | undefined): void {
  live = line;
}

/** Erases the live line for good (before an error ends the run) and shows the cursor again. */
export function dropLiveLine(): void {
  if (!live) return;
  live.clear();
  process.stderr.write('\x1b[?25h');
  live = undefined;
}

/**
 * Writes `text` and a newline to `stream`. A live bar (on a terminal stderr) is cleared first and
 * redrawn after, when the stream shares the terminal (stderr, or a stdout that is a terminal too).
 */
export function writeLine(stream: Stream, text: string): void {
  const shared = live !== undefined && (stream === process.stderr || (stream.isTTY === true && process.stderr.isTTY === true));
  if (shared) live!.clear();
  stream.write(text + '\n');
  if (shared) live!.redraw();
}

export interface Logger {
  /** A progress or log line: stderr, silenced by --quiet. */
  info(msg: string): void;
  /** A warning: stderr, always shown under the CLI. */
  warn(msg: string): void;
  /** A result line, emphasised: stdout for people; with --json, a log line on stderr (stdout holds the JSON). */
  result(msg: string): void;
  /** A result line as it is (a table row): stdout without colour; nothing under --json (the JSON holds it). */
  output(msg: string): void;
}

/**
 * A logger. `quiet` asks for silence (see `isSilent`: under the CLI, --quiet decides and --json
 * no longer silences); outside the CLI, `quiet` silences everything, warnings included.
 */
export function createLogger(quiet = false): Logger {
  const silent = () => isSilent(quiet);
  const err = (s: string) => writeLine(process.stderr, s);
  const toResults = (m: string, paint: (c: ChalkInstance) => string) => {
    if (mode?.json) { if (!silent()) err(paint(errColors())); return; }
    // Without --json a result is the command's output: --quiet does not hide it, but a caller's
    // own request for silence (e.g. a run inside `sst2 repeat`, or a library call) does.
    if (quiet && !mode?.quiet) return;
    writeLine(process.stdout, paint(outColors()));
  };
  return {
    info: (m) => { if (!silent()) err(m); },
    warn: (m) => { if (mode || !quiet) err(errColors().yellow(`warning: ${m}`)); },
    result: (m) => toResults(m, (c) => c.green(m)),
    // Under --json the table is the JSON document: its readable rows are not repeated.
    output: (m) => { if (!mode?.json) toResults(m, () => m); },
  };
}
