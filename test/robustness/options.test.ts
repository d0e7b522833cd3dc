/**
 * Every numeric option of every command given 0, -1, 'abc' and 1e309 where those are invalid, a bad
 * --seed and an unknown option for every command: exit code 2, one `dnnkit: error:` line naming the
 * option and the value, no stack trace, nothing written to --out or to the model cache.
 *
 * The full matrix runs in-process through the same commander program the CLI builds (each module's
 * register(), exitOverride, the same error output), which costs milliseconds a case; one bad value
 * per option (rotating through the four) and one unknown option per command group also run the real
 * CLI in a child process, where exit code, stderr and the file system are checked. Spawning the
 * CLI costs ~1 s of CPU (loading tfjs), so the whole matrix as child processes would be ~2.5 min.
 *
 * The other arguments are chosen so that a value that slipped through validation would fail
 * differently (a missing --data-dir or model), never start a long run.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { runCli, listFiles } from '../helpers.js';
import { register as registerInfo } from '../../src/info/command.js';
import { register as registerMnist } from '../../src/mnist/command.js';
import { register as registerModels } from '../../src/models/command.js';
import { register as registerExplain } from '../../src/explain/command.js';
import { register as registerSst2 } from '../../src/sst2/command.js';
import { register as registerProject } from '../../src/project/command.js';
import { assertCleanError } from './fixtures.js';

let work: string;
let home: string;
let img: string;
let csv: string;
let n = 0;

before(() => {
  work = mkdtempSync(path.join(tmpdir(), 'dnnkit-robust-opts-'));
  home = path.join(work, 'home');
  img = path.join(work, 'a.png'); // never opened: option parsing fails first
  csv = path.join(work, 'a.csv');
  writeFileSync(csv, 'a,b\n1,2\n');
});
after(() => rmSync(work, { recursive: true, force: true }));

const NOWHERE = '/nonexistent/dnnkit-robustness';
const BAD_VALUES = ['0', '-1', 'abc', '1e309'] as const;

/** [command words + fixed arguments, option, values that are valid (skipped)] */
type Row = [() => string[], string, string[]];
const TABLE: Row[] = [
  ...(['--epochs', '--batch-size', '--lr', '--lr-decay', '--limit'] as const).map((o): Row => [() => ['train-mnist', '--data-dir', NOWHERE], o, []]),
  [() => ['train-mnist', '--data-dir', NOWHERE], '--augment', ['0']],
  [() => ['train-mnist', '--data-dir', NOWHERE], '--validation-split', ['0']],
  ...(['--images', '--samples', '--steps', '--batch', '--patches'] as const).map((o): Row => [() => ['explain-eval', '--model', NOWHERE], o, []]),
  ...(['shap', 'explain'] as const).flatMap((c) => (['--patches', '--samples', '--batch'] as const).map((o): Row => [() => [c, '--model', NOWHERE, img], o, []])),
  [() => ['project', csv], '--perplexity', []],
  [() => ['project', csv], '--iterations', []],
  [() => ['project', csv], '--neighbors', []],
  [() => ['project', csv], '--min-dist', ['0']],
  ...(['--epochs', '--patience', '--batch-size', '--learning-rate', '--units', '--layers', '--embedding-dim', '--min-count', '--max-len', '--train-limit', '--cnn-filters'] as const)
    .map((o): Row => [() => ['sst2', '--data-dir', NOWHERE], o, []]),
  // 0 LSTMs is valid with --cnn N (and 0 CNNs is the default); both 0 is checked before training.
  [() => ['sst2', '--data-dir', NOWHERE], '--ensemble', ['0']],
  [() => ['sst2', '--data-dir', NOWHERE], '--cnn', ['0']],
  [() => ['sst2', '--data-dir', NOWHERE], '--clip-norm', ['0']],
  [() => ['sst2', '--data-dir', NOWHERE], '--dropout', ['0']],
  [() => ['sst2', '--data-dir', NOWHERE], '--word-dropout', ['0']],
  [() => ['sst2', '--data-dir', NOWHERE], '--weight-decay', ['0']],
  [() => ['sst2', '--data-dir', NOWHERE], '--ema-decay', ['0']],
  [() => ['sst2', '--data-dir', NOWHERE], '--adversarial', ['0']],
  [() => ['sst2', '--data-dir', NOWHERE], '--oov-prefix', ['0']],
  [() => ['sst2', '--data-dir', NOWHERE], '--subwords', ['0']],
];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function expectUsageError(args: string[], pattern: RegExp, withOut = true): Promise<void> {
  const out = path.join(work, `out${n++}`);
  const res = await runCli(withOut ? [...args, '--out', out] : args, { env: { DNNKIT_HOME: home, DNNKIT_MODEL_URL_BASE: 'http://127.0.0.1:9' } });
  assertCleanError(res, 2, pattern);
  assert.equal(res.stdout, '', 'nothing on stdout');
  assert.deepEqual(listFiles(out), [], 'nothing written to --out');
  assert.deepEqual(listFiles(home), [], 'nothing written to the model cache');
}

/** The CLI's commander program (as src/cli.ts builds it), fresh for each parse. */
function program(errors: string[]): Command {
  const p = new Command('dnnkit')
    .configureOutput({ outputError: (str) => errors.push(`dnnkit: ${str.trim()} (see --help)`), writeErr: () => undefined, writeOut: () => undefined })
    .exitOverride();
  registerInfo(p);
  registerMnist(p);
  registerModels(p);
  registerExplain(p);
  registerSst2(p);
  registerProject(p);
  return p;
}

/** Parses `args` in-process: must be a commander usage error (exit 2 in the CLI) whose one line matches `pattern`. */
async function expectParseError(args: string[], pattern: RegExp): Promise<void> {
  const errors: string[] = [];
  const saved = process.exitCode;
  let thrown: unknown;
  try {
    await program(errors).parseAsync(['node', 'dnnkit', ...args, '--out', path.join(work, `never${n++}`)]);
  } catch (err) {
    thrown = err;
  } finally {
    process.exitCode = saved; // an action that ran by mistake may have set it
  }
  assert.ok(thrown instanceof CommanderError && thrown.exitCode !== 0, `a usage error expected for ${args.join(' ')}, got ${String(thrown)}`);
  assert.equal(errors.length, 1);
  assert.doesNotMatch(errors[0], /\n/, 'one line');
  assert.match(errors[0], pattern);
}

const label = (args: string[]) => args.join(' ').replace(NOWHERE, 'NOWHERE').replace(work, 'TMP');

describe('numeric options: 0, -1, abc, 1e309 (in-process, full matrix)', () => {
  for (const [base, option, valid] of TABLE) {
    it(`${base()[0]} ${option}: ${BAD_VALUES.filter((v) => !valid.includes(v)).join(', ')} are usage errors naming the value`, async () => {
      for (const value of BAD_VALUES.filter((v) => !valid.includes(v))) {
        await expectParseError([...base(), option, value], new RegExp(`${escape(option)}.*'${escape(value)}' is invalid.*${escape(option)} must .*${escape(value)}`));
      }
    });
  }
  it('--seed -1, abc, 1e309 and an unknown option on every command', async () => {
    for (const [args] of COMMANDS) {
      await expectParseError([...args, '--no-such-option'], /unknown option '--no-such-option'/);
      if (args[0] === 'models' || args[1] === 'predict') continue;
      for (const v of ['-1', 'abc', '1e309']) await expectParseError([...args, '--seed', v], new RegExp(`--seed.*${escape(v)}`));
    }
  });
});

describe('numeric options through the real CLI: every other option, one bad value each, rotating', { concurrency: 2 }, () => {
  TABLE.forEach(([base, option, valid], i) => {
    if (i % 2 === 1) return; // the in-process matrix covers every option; ~1 s of CPU per child process
    const values = BAD_VALUES.filter((v) => !valid.includes(v));
    const value = values[(i / 2) % values.length];
    it(`exit 2: dnnkit ${label([...base(), option, value])}`, async () => {
      await expectUsageError([...base(), option, value], new RegExp(`${escape(option)}.*${escape(value)}`));
    });
  });
});

/** Every command (with the arguments it needs to get past parsing) for --seed and unknown options. */
const COMMANDS: [string[], boolean][] = [
  [['info'], true],
  [['train-mnist', '--data-dir', NOWHERE], true],
  [['eval-mnist', '--model', NOWHERE], true],
  [['classify', '--model', NOWHERE, '/nonexistent.png'], true],
  [['gradcam', '--model', NOWHERE, '/nonexistent.png'], true],
  [['shap', '--model', NOWHERE, '/nonexistent.png'], true],
  [['explain', '--model', NOWHERE, '/nonexistent.png'], true],
  [['explain-eval', '--model', NOWHERE], true],
  [['sst2', '--data-dir', NOWHERE], true],
  [['sst2', 'predict', '--model', NOWHERE, 'a fine film'], true],
  [['project', '/nonexistent.csv'], true],
  [['models', 'list'], false],
  [['models', 'pull', 'resnet18'], false],
  [['models', 'convert', '/nonexistent.pth', '--arch', 'resnet18'], true],
];

describe('unknown options, --seed, choices and missing arguments through the real CLI', { concurrency: 2 }, () => {
  // One command of each module group (the in-process matrix above covers every command).
  for (const i of [0, 2, 5, 9, 10, 12]) {
    const [args, hasOut] = COMMANDS[i];
    it(`exit 2: dnnkit ${label(args)} --no-such-option`, async () => {
      await expectUsageError([...args, '--no-such-option'], /unknown option '--no-such-option'/, hasOut);
    });
  }
  it('exit 2: dnnkit explain --seed 1e309', async () => {
    await expectUsageError([...COMMANDS[6][0], '--seed', '1e309'], /--seed.*'1e309'/);
  });
  it('exit 2: --backend gpu, and an unknown command', async () => {
    await expectUsageError(['classify', '--backend', 'gpu', '/nonexistent.png'], /'gpu' is invalid.*node, wasm, cpu/);
    await expectUsageError(['frobnicate'], /unknown command 'frobnicate'/, false);
  });
  it('exit 2: a choice outside the registry (models pull alexnet, convert --arch alexnet, project --method isomap, sst2 --early-stopping members)', async () => {
    await expectUsageError(['models', 'pull', 'alexnet'], /'alexnet' is invalid.*resnet18, vgg16/, false);
    await expectUsageError(['models', 'convert', '/nonexistent.pth', '--arch', 'alexnet'], /'alexnet' is invalid.*resnet18, vgg16/);
    await expectUsageError(['project', csv, '--method', 'isomap'], /'isomap' is invalid.*unknown method 'isomap'; use pca, tsne or umap/);
    await expectUsageError(['sst2', '--data-dir', NOWHERE, '--early-stopping', 'members'], /'members' is invalid.*ensemble, network/);
  });
  it('exit 2: a required argument or option missing', async () => {
    await expectUsageError(['project'], /missing required argument 'file'/);
    await expectUsageError(['explain-eval'], /required option '--model <dir>' not specified/);
    await expectUsageError(['models', 'convert', '/nonexistent.pth'], /required option '--arch <name>' not specified/);
    await expectUsageError(['sst2', 'predict', 'a fine film'], /required option '--model <dir>' not specified/);
  });
});
