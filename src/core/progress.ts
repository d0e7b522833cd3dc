/**
 * Progress on stderr, with or without --json (silenced by --quiet; see log.ts). On a terminal: a
 * cli-progress bar with live metrics and ETA, registered as log.ts's live line, so that every
 * other line written meanwhile (logs, results, an error) clears the bar first and the bar is
 * redrawn below it; `stop()` erases the bar, leaving no stale "100%" line. Without a terminal: a
 * plain status line at most every `plainEverySec` seconds, so long runs in CI still show they are
 * alive.
 */
import cliProgress from 'cli-progress';
import { errColors, isSilent, setLiveLine, writeLine } from './log.js';

export interface Progress {
  /** Sets the position and the live values shown after the bar (e.g. loss, acc). */
  update(value: number, metrics?: Record<string, number | string>): void;
  /** Prints a line above the bar (e.g. an epoch summary); silent when quiet. */
  log(line: string): void;
  /** Removes the bar (on a terminal); later lines start on a clean line. */
  stop(): void;
}

export interface ProgressOptions {
  total: number;
  label: string;
  /** Asks for no output (see log.ts `isSilent`: under the CLI, --quiet decides). */
  quiet?: boolean;
  /** Without a TTY, print a plain status line this often (seconds; 0 = never). */
  plainEverySec?: number;
}

function formatMetrics(metrics: Record<string, number | string>): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? (Number.isInteger(v) || Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(4)) : v}`)
    .join('  ');
}

export function createProgress(opts: ProgressOptions): Progress {
  if (isSilent(opts.quiet)) return { update: () => {}, log: () => {}, stop: () => {} };
  if (!process.stderr.isTTY) {
    const every = (opts.plainEverySec ?? 5) * 1000;
    let last = Date.now();
    return {
      update(value, metrics = {}) {
        if (every > 0 && Date.now() - last >= every) {
          last = Date.now();
          writeLine(process.stderr, `${opts.label} ${value}/${opts.total} ${formatMetrics(metrics)}`.trimEnd());
        }
      },
      log: (line) => writeLine(process.stderr, line),
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${errColors().cyan(opts.label)} {bar} {percentage}% | {value}/{total} | ETA {eta_formatted} | {metrics}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      // Redraw even when the text is unchanged: another line may just have erased the bar.
      forceRedraw: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  // cli-progress saves the cursor at start and restores it at stop: with lines printed above the
  // bar meanwhile, the restore jumped back up and the next line overwrote an earlier one (the
  // garbled end of train-mnist). The bar lives on the current line, so it needs neither.
  const terminal = (bar as unknown as { terminal: { cursorSave(): void; cursorRestore(): void } }).terminal;
  terminal.cursorSave = () => {};
  terminal.cursorRestore = () => {};
  bar.start(opts.total, 0, { metrics: '' });
  let stopped = false;
  const liveLine = {
    clear: () => process.stderr.write('\r\x1b[2K'),
    redraw: () => (bar as unknown as { render(): void }).render(),
  };
  setLiveLine(liveLine);
  return {
    update: (value, metrics = {}) => { if (!stopped) bar.update(value, { metrics: formatMetrics(metrics) }); },
    log: (line) => writeLine(process.stderr, line),
    stop: () => {
      if (stopped) return;
      stopped = true;
      setLiveLine(undefined);
      bar.stop();
    },
  };
}
