/**
 * One vocabulary (issue 14, item 3). Walks commander's command tree (buildProgram, the same tree
 * the CLI runs) and, for every command, parses each default and each choice that its --help
 * shows, with every action replaced by a no-op (a dry parse: fast, nothing runs). Also: "did you
 * mean" suggests the command's own options by prefix and edit distance, and one name per concept
 * across commands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommanderError, type Command, type Option } from 'commander';
import { buildProgram } from '../../src/cli.js';
import { Command as PlainCommand } from 'commander';
import { aliasOption, closestNames, DnnkitCommand, editDistance, floatArg, VOCABULARY } from '../../src/core/command.js';
import { runCli } from '../helpers.js';
import { commands, dryProgram } from './program.js';

/** Arguments and mandatory options a command needs to parse at all. */
function essentials(cmd: Command): string[] {
  const args: string[] = [];
  for (const o of cmd.options) {
    if (!o.mandatory) continue;
    args.push(o.long!, o.argChoices?.[0] ?? (o.defaultValue !== undefined ? String(o.defaultValue) : 'x'));
  }
  for (const a of cmd.registeredArguments) {
    if (a.required) args.push(a.argChoices?.[0] ?? 'x');
  }
  return args;
}

/** Values the help text shows for an option: its default and choices, and a "(default N)" in its description. */
function shownValues(o: Option): string[] {
  const values = new Set<string>();
  if (!o.required && !o.optional) return []; // a flag takes no value
  if (o.defaultValue !== undefined && typeof o.defaultValue !== 'boolean') values.add(Array.isArray(o.defaultValue) ? o.defaultValue.join(',') : String(o.defaultValue));
  for (const c of o.argChoices ?? []) values.add(c);
  const inText = /\(default:? (-?\d+(?:\.\d+)?|"[^"]+")\)/.exec(o.description ?? '');
  if (inText) values.add(inText[1].replace(/^"|"$/g, ''));
  return [...values];
}

async function dryParse(argv: string[]): Promise<string | undefined> {
  try {
    await dryProgram().parseAsync(['node', 'dnnkit', ...argv]);
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) return err.message;
    throw err;
  }
}

test('every default and choice that --help shows is accepted (dry parse of every command)', async () => {
  const tree = commands(buildProgram());
  assert.ok(tree.length >= 14, `the tree has the commands (${tree.map((c) => c.path.join(' ')).join(', ')})`);
  const rejected: string[] = [];
  let tried = 0;
  for (const { path: names, cmd } of tree) {
    if (!(cmd as unknown as { _actionHandler?: unknown })._actionHandler) continue; // a group (models): its subcommands are walked
    const base = [...names, ...essentials(cmd)];
    const bare = await dryParse(base);
    if (bare) { rejected.push(`dnnkit ${base.join(' ')}: ${bare}`); continue; }
    for (const o of cmd.options) {
      if (o.hidden) continue;
      for (const v of shownValues(o)) {
        tried++;
        const err = await dryParse([...base, o.long ?? o.short!, v]);
        if (err) rejected.push(`dnnkit ${names.join(' ')} ${o.long} ${v}: ${err}`);
      }
    }
    for (const a of cmd.registeredArguments) {
      for (const v of a.argChoices ?? []) {
        tried++;
        const err = await dryParse([...names, ...essentials(cmd).slice(0, -1), v]);
        if (err) rejected.push(`dnnkit ${names.join(' ')} ${v}: ${err}`);
      }
    }
  }
  assert.ok(tried > 50, `tried ${tried} shown values`);
  assert.deepEqual(rejected, [], 'values shown by --help but rejected');
});

test('the dry parse can fail: a value outside the choices is rejected', async () => {
  assert.match((await dryParse(['info', '--backend', 'gpu'])) ?? '', /Allowed choices/);
  assert.match((await dryParse(['info', '--seed', '-1'])) ?? '', /--seed must be between/);
});

test('did you mean: prefixes first, then edit distance, over the command\'s own options only', async () => {
  assert.equal(editDistance('patch', 'batch'), 1);
  assert.equal(editDistance('ab', 'ba'), 1);
  assert.deepEqual(closestNames('--patch', ['--patches', '--batch', '--samples']), ['--patches']);
  assert.deepEqual(closestNames('--batc', ['--patches', '--batch']), ['--batch']);
  assert.deepEqual(closestNames('--zzzzzz', ['--patches', '--batch']), []);

  const cases: Array<[string[], RegExp | null]> = [
    [['shap', '--patch', '16'], /\(did you mean --patches\?\)/],
    [['gradcam', '--lyer', 'x'], /\(did you mean --layer\?\)/],
    [['project', 'f.csv', '--perplex', '5'], /\(did you mean --perplexity\?\)/],
    [['models', 'list', '--forc'], null], // --force is `models pull`'s, not list's
  ];
  for (const [argv, hint] of cases) {
    const res = await runCli(argv);
    assert.equal(res.code, 2, res.stderr);
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines.length, 1, res.stderr);
    assert.match(lines[0], new RegExp(`unknown option '${argv.find((a) => a.startsWith('--'))}'`));
    if (hint) assert.match(lines[0], hint);
    else assert.doesNotMatch(lines[0], /did you mean/);
  }
});

test('one vocabulary: the same option name for the same thing in every command', async () => {
  const clashes: string[] = [];
  for (const { path: names, cmd } of commands(buildProgram())) {
    for (const [canonical, ...others] of VOCABULARY) {
      for (const o of cmd.options) {
        if (others.includes(o.long!) && !o.hidden) clashes.push(`dnnkit ${names.join(' ')} shows ${o.long}; name it ${canonical}`);
      }
    }
  }
  assert.deepEqual(clashes, []);
  // The old spellings still work, through the same parser, and name the flag the user typed.
  const program = dryProgram();
  assert.equal(program.commands.find((c) => c.name() === 'train-mnist')!.helpInformation().includes('--learning-rate <x>'), true);
  assert.doesNotMatch(program.commands.find((c) => c.name() === 'train-mnist')!.helpInformation(), /--lr </);
  assert.equal(await dryParse(['train-mnist', '--lr', '0.01']), undefined);
  assert.equal(await dryParse(['train-mnist', '--learning-rate', '0.01']), undefined);
  assert.match((await dryParse(['train-mnist', '--learning-rate', '0'])) ?? '', /--learning-rate must be in \(0, 10\], got 0/);
  assert.match((await dryParse(['train-mnist', '--lr', '0'])) ?? '', /--lr must be in \(0, 10\], got 0/);
  assert.equal(await dryParse(['shap', '--batch-size', '8']), undefined);
  assert.equal(await dryParse(['shap', '--batch', '8']), undefined);
});

test('renamed options store into the module\'s attribute: train-mnist --learning-rate sets opts.lr', async () => {
  const program = buildProgram();
  const train = program.commands.find((c) => c.name() === 'train-mnist')!;
  let seen: Record<string, unknown> = {};
  train.exitOverride().action((o: Record<string, unknown>) => { seen = o; });
  await program.parseAsync(['node', 'dnnkit', 'train-mnist', '--learning-rate', '0.05']);
  assert.equal(seen.lr, 0.05);
  assert.equal(seen.learningRate, undefined);
});

test('aliasOption: the old spelling sets the same option through the same parser, hidden from --help', async () => {
  const make = () => {
    const cmd = new DnnkitCommand('t').exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} })
      .option('--learning-rate <x>', 'step size', floatArg('--learning-rate', 0, 1), 0.01).action(() => {});
    return aliasOption(cmd, '--lr', '--learning-rate');
  };
  assert.equal(make().parse(['--lr', '0.5'], { from: 'user' }).opts().learningRate, 0.5);
  assert.equal(make().parse([], { from: 'user' }).opts().learningRate, 0.01);
  assert.equal(make().opts().lr, undefined);
  assert.throws(() => make().parse(['--lr', '2'], { from: 'user' }), /--learning-rate must be in \[0, 1\], got 2/);
  assert.doesNotMatch(make().helpInformation(), /--lr\b/);
  // A misspelt alias suggests the name every command shows.
  assert.throws(() => make().parse(['--lrr', '1'], { from: 'user' }), /did you mean --learning-rate\?/);
  assert.ok(new PlainCommand() instanceof PlainCommand);
});
