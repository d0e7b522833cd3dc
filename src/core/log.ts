/** Human output goes to stderr (stdout is kept for --json); colours via chalk. */
import chalk from 'chalk';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  /** A result line, emphasised. */
  result(msg: string): void;
}

/** A logger writing to stderr; `quiet` silences info and result lines (warnings still show). */
export function createLogger(quiet = false): Logger {
  const write = (s: string) => process.stderr.write(s + '\n');
  return {
    info: (m) => { if (!quiet) write(m); },
    warn: (m) => write(chalk.yellow(`warning: ${m}`)),
    result: (m) => { if (!quiet) write(chalk.green(m)); },
  };
}
