/** Commands of the project module (filled in by its owner). */
import { Command } from 'commander';

export function register(_program: Command): void {
  // commands are added here
}
