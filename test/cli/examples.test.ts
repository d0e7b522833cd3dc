/**
 * Examples run as written (issue 14): every `$ dnnkit ...` example in every command's --help
 * parses (a dry parse: the command exists, every option and value is accepted), and the README's
 * quickstart block runs, command by command, in a fresh folder: each exits 0 and writes the
 * files the README tells the reader to look at.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CommanderError } from 'commander';
import { BIN, ROOT, runCli, tempDir } from '../helpers.js';
import { commands, dryProgram } from './program.js';

/** Shell words of a command line (single and double quotes; no expansions are used in examples). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) words.push(m[1] ?? m[2] ?? m[3]);
  return words;
}

/** The dnnkit arguments of an example line (`$ dnnkit a b  # note`, `... | tail -1` cut off). */
function exampleArgs(line: string): string[] | undefined {
  const m = /^\s*\$ (?:cat \S+ \| )?dnnkit (.*)$/.exec(line);
  if (!m) return undefined;
  const command = m[1].replace(/\s+#.*$/, '').split(/\s+\|\s+/)[0].replace(/\s*>\s*\S+$/, '');
  return shellWords(command);
}

test('every example in every --help parses as written', async () => {
  const paths = commands(dryProgram()).map((c) => c.path);
  let examples = 0;
  for (const p of paths) {
    const help = await runCli([...p, '--help']);
    assert.equal(help.code, 0, `${p.join(' ')} --help: ${help.stderr}`);
    for (const line of help.stdout.split('\n')) {
      const args = exampleArgs(line);
      if (!args) continue;
      examples++;
      try {
        await dryProgram().parseAsync(['node', 'dnnkit', ...args]);
      } catch (err) {
        const msg = err instanceof CommanderError ? err.message : String(err);
        assert.fail(`example in '${p.join(' ')} --help' does not parse: dnnkit ${args.join(' ')}\n  ${msg}`);
      }
    }
  }
  assert.ok(examples >= 15, `only ${examples} examples found in the help texts`);
});

test('the README quickstart runs as written in a fresh folder', { timeout: 900_000 }, (t) => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /## Quickstart[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README has a Quickstart section with a sh block');
  const lines = block[1].split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  assert.ok(lines.length >= 6, `${lines.length} quickstart commands`);
  const dir = tempDir(t);
  for (const line of lines) {
    assert.match(line, /^node bin\/dnnkit\.js /, `a quickstart line that is not a dnnkit command: ${line}`);
    const args = shellWords(line).slice(2);
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
    assert.equal(r.status, 0, `${line}\n${r.stderr.trim().split('\n').slice(-3).join('\n')}`);
  }
  // The files the README says to look at afterwards.
  const after = /Then look at ([\s\S]*?)\n\n/.exec(readme)?.[1] ?? '';
  const files = [...after.matchAll(/`([^`]+\.(?:png|csv))`/g)].map((m) => m[1]);
  assert.ok(files.length >= 2, 'the README names files to look at');
  for (const f of files) assert.ok(existsSync(path.join(dir, f)), `${f} (named in the README) was not written`);
});
