/**
 * Progress bars (cli-progress) on stderr with live metrics and ETA. Silent when stderr is not a
 * terminal or with --json; then a plain line is logged at most every `plainEverySec` seconds,
 * so long runs in CI still show they are alive.
 */
import cliProgress from 'cli-progress';
import chalk from 'chalk';

export interface Progress {
  /** Sets the position and the live values shown after the bar (e.g. loss, acc). */
  update(value: number, metrics?: Record<string, number | string>): void;
  /** Prints a line above the bar (e.g. an epoch summary); silent when quiet. */
  log(line: string): void;
  stop(): void;
}

export interface ProgressOptions {
  total: number;
  label: string;
  /** No output at all (--json). */
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
  if (opts.quiet) return { update: () => {}, log: () => {}, stop: () => {} };
  if (!process.stderr.isTTY) {
    const every = (opts.plainEverySec ?? 5) * 1000;
    let last = Date.now();
    return {
      update(value, metrics = {}) {
        if (every > 0 && Date.now() - last >= every) {
          last = Date.now();
          process.stderr.write(`${opts.label} ${value}/${opts.total} ${formatMetrics(metrics)}\n`);
        }
      },
      log: (line) => process.stderr.write(line + '\n'),
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${chalk.cyan(opts.label)} {bar} {percentage}% | {value}/{total} | ETA {eta_formatted} | {metrics}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(opts.total, 0, { metrics: '' });
  return {
    update: (value, metrics = {}) => bar.update(value, { metrics: formatMetrics(metrics) }),
    // Clear the bar's line, print, and let the bar redraw below on its next tick.
    log: (line) => process.stderr.write(`\r\x1b[2K${line}\n`),
    stop: () => bar.stop(),
  };
}
