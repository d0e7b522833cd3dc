/**
 * The CLI's command tree for tests: every command with its path, and a dry program whose actions
 * do nothing (parsing only), for the help-contract and examples tests.
 */
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli.js';

/** Every command below the program, with its path of names (help excluded). */
export function commands(root: Command): Array<{ path: string[]; cmd: Command }> {
  const out: Array<{ path: string[]; cmd: Command }> = [];
  const walk = (c: Command, p: string[]) => {
    for (const sub of c.commands) {
      if (sub.name() === 'help') continue;
      out.push({ path: [...p, sub.name()], cmd: sub });
      walk(sub, [...p, sub.name()]);
    }
  };
  walk(root, []);
  return out;
}

/** A fresh program whose actions do nothing and whose errors are thrown (never printed). */
export function dryProgram(): Command {
  const program = buildProgram();
  const all = [program, ...commands(program).map((c) => c.cmd)];
  for (const c of all) {
    c.exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
    if ((c as unknown as { _actionHandler?: unknown })._actionHandler) c.action(() => {});
  }
  return program;
}

