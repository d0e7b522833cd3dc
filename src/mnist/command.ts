/** Commands of the mnist module. */
import { Command } from 'commander';

export function register(_program: Command): void {
  // train-mnist, eval-mnist
}
