/**
 * `dnnkit explain-text --model RUN_DIR "a sentence" ...`: word attributions of a saved SST-2
 * model (Shapley values, leave-one-out, Integrated Gradients; run.ts). Names, defaults and help
 * come from the registry (registry.ts), the masks (game.ts) and TEXT_EXPLAIN_DEFAULTS.
 */
import { Command, Option } from 'commander';
import { action, addCommonOptions, intArg } from '../core/command.js';
import { MASK_NAMES, MASKS } from './game.js';
import { TOKEN_METHODS } from './registry.js';
import { runExplainText, TARGETS, TEXT_EXPLAIN_DEFAULTS, type ExplainTextRunOptions } from './run.js';
import { MAX_EXACT_TOKENS } from './token_shapley.js';

export function register(program: Command): void {
  const d = TEXT_EXPLAIN_DEFAULTS;
  addCommonOptions(
    program.command('explain-text')
      .description('explain an SST-2 model saved by dnnkit sst2: Shapley values, leave-one-out and Integrated Gradients of each word')
      .argument('[sentence...]', 'sentences to explain (quote each one; - reads one sentence per line from stdin)'),
    'explain-text',
  )
    .requiredOption('--model <dir>', 'the run folder dnnkit sst2 wrote (--out), or its model/ folder')
    .option('--file <file>', 'a text file with one sentence per line (text after a tab is ignored)')
    .addOption(new Option('--split <name>', 'explain the sentences of this split of --data-dir').choices(['train', 'dev', 'test']))
    .option('--data-dir <dir>', 'folder with the SST-2 splits (for --split)', 'data/sst2')
    .option('--limit <n>', 'explain at most this many sentences', intArg('--limit', 1, 10_000_000))
    .option('--methods <list>', `comma-separated: ${TOKEN_METHODS.map((m) => `${m.name} = ${m.help}`).join('; ')}`, d.methods.join(','))
    .addOption(new Option('--target <class>', 'class whose log-odds is explained').choices([...TARGETS]).default(d.target))
    .addOption(new Option('--mask <how>', `how a removed token is masked: ${MASK_NAMES.map((m) => `${m} = ${MASKS[m]}`).join('; ')}`).choices(MASK_NAMES).default(d.mask))
    .option('--exact-max <n>', `exact Shapley values (all 2^n coalitions) up to this many tokens, permutation sampling above (at most ${MAX_EXACT_TOKENS})`, intArg('--exact-max', 0, MAX_EXACT_TOKENS), d.exactMax)
    .option('--samples <n>', 'permutations sampled for Shapley values above --exact-max (paired with their reverses)', intArg('--samples', 2, 1_000_000), d.samples)
    .option('--ig-steps <n>', 'steps of the Integrated Gradients path', intArg('--ig-steps', 1, 100_000), d.igSteps)
    .option('--batch-size <n>', 'sentences per forward pass (path points for Integrated Gradients)', intArg('--batch-size', 1, 65_536), d.batch)
    .option('--faithfulness', 'also measure deletion/insertion curves (AUC, standard errors) of every method and of a random order', false)
    .option('--sanity', 'also explain with randomly initialised weights and report each method\'s rank correlation with the trained model\'s attributions', false)
    .option('--figures <n>', 'write a PNG, SVG and HTML figure for the first n sentences', intArg('--figures', 0, 100_000), 20)
    .action(action<ExplainTextRunOptions>(runExplainText));
}
