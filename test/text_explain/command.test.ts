/**
 * `dnnkit explain-text` end to end on tiny saved models (fixtures.ts): a one-network model and an
 * ensemble (LSTM + CNN, subword vectors); outputs, determinism, stdin, --split, and one-line
 * errors with exit codes 2 (usage) and 1 (input). The command is registered on its own program
 * (as src/cli.ts will), so the tests do not depend on the CLI's command list.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ROOT, runNode, tempDir, type CliResult } from '../helpers.js';
import { saveTinyModel } from './fixtures.js';

const DRIVER = `
import { DnnkitCommand } from ${JSON.stringify(path.join(ROOT, 'dist/src/core/command.js'))};
import { register } from ${JSON.stringify(path.join(ROOT, 'dist/src/text_explain/command.js'))};
const program = new DnnkitCommand('dnnkit').exitOverride().configureOutput({ outputError: (s, w) => w('dnnkit: ' + s.trim() + '\\n') });
register(program);
try { await program.parseAsync(process.argv); } catch (e) { if (e.code && String(e.code).startsWith('commander')) process.exitCode = e.exitCode === 0 ? 0 : 2; else throw e; }
`;

function explainText(args: string[], stdin?: string): Promise<CliResult> {
  return runNode(['--input-type=module', '-e', DRIVER, 'dnnkit', 'explain-text', ...args], { stdin: stdin ?? '' });
}

const LONG = 'the movie is a gorgeous witty mess and the plot is dull';

test('explain-text on a one-network model and on an ensemble: table, CSV, figures, run.json', async (t) => {
  const dir = tempDir(t, 'dnnkit-text-explain-');
  for (const kind of ['lstm', 'ensemble'] as const) {
    const model = path.join(dir, `${kind}-model`);
    mkdirSync(model);
    await saveTinyModel(kind, model);
    const out = path.join(dir, `${kind}-out`);
    const res = await explainText(['--model', model, 'a gorgeous movie', LONG, '--exact-max', '6', '--samples', '8', '--ig-steps', '16', '--out', out, '--backend', 'cpu']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /arg-1 {2}P\(positive\)/);
    assert.match(res.stdout, /shapley {3}exact/);
    assert.match(res.stdout, /shapley {3}permutation/);
    const csv = readFileSync(path.join(out, 'attributions.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'sentence_id,token_index,token,method,value,se,ci_low,ci_high');
    assert.equal(csv.length - 1, 3 * (3 + 12), 'a row per token per method');
    const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'));
    assert.equal(run.command, 'explain-text');
    for (const f of ['sentence-arg-1.png', 'sentence-arg-2.svg', 'sentence-arg-2.html', 'sentences.csv']) assert.ok(run.files[f], f);
  }
});

test('same command and seed: identical CSV; --json prints one document; stdin and --split dev', async (t) => {
  const dir = tempDir(t, 'dnnkit-text-explain-');
  const model = path.join(dir, 'model');
  mkdirSync(model);
  await saveTinyModel('ensemble', model);
  const args = (out: string) => ['--model', model, LONG, '--exact-max', '4', '--samples', '6', '--methods', 'shapley,loo', '--figures', '0', '--out', path.join(dir, out), '--backend', 'cpu', '--seed', '3'];
  const [a, b] = [await explainText(args('a')), await explainText([...args('b'), '--json'])];
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(readFileSync(path.join(dir, 'a', 'attributions.csv'), 'utf8'), readFileSync(path.join(dir, 'b', 'attributions.csv'), 'utf8'));
  const doc = JSON.parse(b.stdout);
  assert.equal(doc.sentences[0].methods.shapley.estimator, 'permutation');
  assert.equal(doc.sentences[0].methods.shapley.se.length, 12);
  const runDir = path.join(dir, 'run');
  mkdirSync(path.join(runDir, 'model'), { recursive: true });
  await saveTinyModel('lstm', path.join(runDir, 'model'));
  const fromRun = await explainText(['--model', runDir, 'a gorgeous movie', '--methods', 'loo', '--figures', '0', '--out', path.join(dir, 'r'), '--backend', 'cpu']);
  assert.equal(fromRun.code, 0, `the run folder sst2 wrote works as --model: ${fromRun.stderr}`);
  const stdin = await explainText(['--model', model, '-', '--methods', 'loo', '--figures', '0', '--out', path.join(dir, 'c'), '--backend', 'cpu'], 'a gorgeous movie\nboring and too long\n');
  assert.equal(stdin.code, 0, stdin.stderr);
  assert.match(stdin.stdout, /stdin-2/);
  writeFileSync(path.join(dir, 'sentences.txt'), 'superb acting\t1\n\nboring\n');
  const file = await explainText(['--model', model, '--file', path.join(dir, 'sentences.txt'), '--methods', 'loo', '--figures', '0', '--out', path.join(dir, 'f'), '--backend', 'cpu']);
  assert.equal(file.code, 0, file.stderr);
  assert.match(file.stdout, /line-2 .*\(1 token\)/, 'blank lines skipped, text after a tab ignored');
  const data = path.join(dir, 'data');
  mkdirSync(data);
  writeFileSync(path.join(data, 'dev.tsv'), 'a gorgeous movie\t1\nboring and too long\t0\nsuperb acting\t1\n');
  const split = await explainText(['--model', model, '--split', 'dev', '--data-dir', data, '--limit', '2', '--methods', 'shapley,loo', '--faithfulness', '--sanity', '--figures', '0', '--out', path.join(dir, 'd'), '--backend', 'cpu']);
  assert.equal(split.code, 0, split.stderr);
  assert.match(split.stdout, /dev-1/);
  assert.doesNotMatch(split.stdout, /dev-2 /);
  assert.match(split.stdout, /random/);
  assert.match(split.stdout, /sanity: Spearman/);
  assert.match(readFileSync(path.join(dir, 'd', 'faithfulness.csv'), 'utf8'), /^method,sentences,deletion_auc/);
});

test('bad input: one line on stderr, exit 1 (missing model) or 2 (empty sentence, --exact-max out of range)', async (t) => {
  const dir = tempDir(t, 'dnnkit-text-explain-');
  const model = path.join(dir, 'model');
  mkdirSync(model);
  await saveTinyModel('lstm', model);
  const cases: [string[], number, RegExp][] = [
    [['--model', path.join(dir, 'nope'), 'a movie'], 1, /model\.json/],
    [['--model', model, '   '], 2, /empty/],
    [['--model', model, 'a movie', '--exact-max', '17'], 2, /--exact-max/],
    [['--model', model, 'a movie', '--methods', 'shap'], 2, /unknown attribution method/],
    [['--model', model], 2, /no sentences/],
  ];
  for (const [args, code, message] of cases) {
    const res = await explainText([...args, '--out', path.join(dir, 'out'), '--backend', 'cpu']);
    assert.equal(res.code, code, `${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, message);
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
  }
});
