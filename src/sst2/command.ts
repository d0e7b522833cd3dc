/**
 * Commands of the sst2 module: `dnnkit sst2` (train, evaluate, extract features, project),
 * `sst2 repeat` and `sst2 predict`. Each declares its options (names, defaults and help from
 * SST2_DEFAULTS, featureLayerNames and the projection registry), lets core/command.ts validate
 * and report, and calls the module's run function (runSst2, runSst2Repeat, runSst2Predict); the
 * logic is in the module.
 */
import { Command, Option } from 'commander';
import { addCommonOptions, action, floatArg, intArg, type CommonOptions } from '../core/command.js';
import { PROJECTION_CHOICES } from '../project/index.js';
import { FEATURE_LAYER_HELP, POOLINGS } from './model.js';
import { EARLY_STOPPINGS, SST2_DEFAULTS, type Sst2RunOptions } from './options.js';
import { runSst2 } from './train.js';
import { gatherSentences, runSst2Predict, type PredictOptions } from './predict.js';
import { runSst2Repeat } from './repeat.js';

/**
 * action() for a subcommand of `sst2` whose options include the parent's: commander hands
 * options given after the subcommand name to `sst2` (the root program is not positional), so
 * the merged view (optsWithGlobals) is what the run sees, minus the `onlyIfGiven` options left
 * at their default.
 */
function withParentOptions<O extends CommonOptions>(run: (opts: O, args: string[]) => Promise<object | void>, onlyIfGiven: readonly string[] = []) {
  return (...params: unknown[]) => {
    const cmd = params[params.length - 1] as Command;
    const merged = cmd.optsWithGlobals();
    // `onlyIfGiven`: parent options whose default means something else here (sst2's --out is the
    // training folder; predict --shard must not write into it unless told to)
    for (const key of onlyIfGiven) if (cmd.parent?.getOptionValueSource(key) === 'default') delete merged[key];
    return action(run)({ opts: () => merged, args: cmd.args } as unknown as Command);
  };
}

/**
 * action() that also hands the run the names of the options set on the command line
 * (`givenOptions`), so that --resume can refuse those that conflict with the checkpoint.
 */
function withGivenOptions<O extends CommonOptions>(run: (opts: O) => Promise<object | void>) {
  return (...params: unknown[]) => {
    const cmd = params[params.length - 1] as Command;
    const givenOptions = cmd.options.map((o) => o.attributeName()).filter((name) => cmd.getOptionValueSource(name) === 'cli');
    return action(run)({ opts: () => ({ ...cmd.opts(), givenOptions }), args: cmd.args } as unknown as Command);
  };
}

export function register(program: Command): void {
  const d = SST2_DEFAULTS;
  const sst2 = addCommonOptions(
    program.command('sst2')
      .description('train an LSTM sentiment classifier on SST-2, report dev/test accuracy, extract and project its features')
      .enablePositionalOptions(),
    'sst2',
  )
    .option('--data-dir <dir>', 'folder with train.tsv, dev.tsv, test.tsv (sentence-level SST-2 or GLUE layout)', d.dataDir)
    .option('--epochs <n>', 'most epochs (early stopping on dev accuracy may stop sooner)', intArg('--epochs', 1, 1000), d.epochs)
    .option('--patience <n>', 'stop after this many epochs without a better dev accuracy', intArg('--patience', 1, 1000), d.patience)
    .option('--batch-size <n>', 'sentences per batch', intArg('--batch-size', 1, 4096), d.batchSize)
    .option('--learning-rate <x>', 'Adam step size', floatArg('--learning-rate', 0, 1, { minExclusive: true }), d.learningRate)
    .option('--clip-norm <x>', 'clip the gradient norm (of each network, with --ensemble; 0 = off)', floatArg('--clip-norm', 0, 1e6), d.clipNorm)
    .option('--weight-decay <x>', 'decoupled weight decay of embeddings and kernels per step, times the learning rate (AdamW; 0 = off)', floatArg('--weight-decay', 0, 1e6), d.weightDecay)
    .option('--ema-decay <x>', 'evaluate and keep an exponential moving average of the weights with this decay per step (0 = off)', floatArg('--ema-decay', 0, 1, { maxExclusive: true }), d.emaDecay)
    .option('--ensemble <n>', 'train this many LSTM networks from different random starts side by side and average their probabilities (n times the training time)', intArg('--ensemble', 0, 64), d.ensemble)
    .option('--cnn <n>', 'add this many CNN networks to the ensemble (filters over 3, 4 and 5 consecutive words, max over the sentence: Kim 2014), each weighing as one LSTM; --ensemble 0 --cnn 1 trains one CNN', intArg('--cnn', 0, 64), d.cnn)
    .option('--cnn-filters <n>', 'filters per window width of each CNN network', intArg('--cnn-filters', 1, 4096), d.cnnFilters)
    .addOption(new Option('--early-stopping <on>', 'with --ensemble: ensemble = keep all networks at the epoch of the best ensemble dev accuracy; network = keep each network at its own best dev epoch and stop training it after --patience epochs without a better one (as separate runs)').choices([...EARLY_STOPPINGS]).default(d.earlyStopping))
    .option('--adversarial <x>', 'adversarial training: also train on word vectors pushed up the loss gradient by this share of their norm (0 = off, about 2x faster)', floatArg('--adversarial', 0, 10), d.adversarial)
    .option('--units <n>', 'hidden units per LSTM direction', intArg('--units', 1, 4096), d.units)
    .option('--layers <n>', 'stacked LSTM layers', intArg('--layers', 1, 8), d.layers)
    .option('--bidirectional', 'add a right-to-left LSTM in every layer', d.bidirectional)
    .option('--no-bidirectional', 'left-to-right LSTMs only')
    .addOption(new Option('--pooling <how>', 'sentence vector from the last LSTM layer: last = final state, max / mean = max / mean of the hidden states over time, meanmax = both').choices([...POOLINGS]).default(d.pooling))
    .option('--embedding-dim <n>', 'word vector size (learned from scratch)', intArg('--embedding-dim', 1, 4096), d.embeddingDim)
    .option('--dropout <x>', 'dropout rate on word vectors, between layers and before the output', floatArg('--dropout', 0, 1, { maxExclusive: true }), d.dropout)
    .option('--min-count <n>', 'words seen fewer times in train become <oov>', intArg('--min-count', 1, 1_000_000), d.minCount)
    .option('--word-dropout <x>', 'share of training tokens replaced by <oov> at random', floatArg('--word-dropout', 0, 1, { maxExclusive: true }), d.wordDropout)
    .option('--oov-prefix <n>', 'unknown words longer than n letters get the vector of their first n letters, learned from training words with that prefix (0 = one <oov> vector for all)', intArg('--oov-prefix', 0, 100), d.oovPrefix)
    .option('--subwords <n>', 'add to each word vector the mean vector of its character 3- to 5-grams, for the n-grams found in at least n distinct training words, so unknown words get a vector from their pieces (0 = off)', intArg('--subwords', 0, 1_000_000), d.subwords)
    .option('--max-len <n>', 'longest sentence in tokens, longer ones keep their last tokens (default: the longest training sentence)', intArg('--max-len', 1, 100_000))
    .option('--train-limit <n>', 'train on a random subset of this many sentences (quick runs)', intArg('--train-limit', 2, 10_000_000))
    .addOption(new Option('--embed-plot <method>', 'project the extracted features to 2-D').choices([...PROJECTION_CHOICES, 'none']).default(d.embedPlot))
    .option('--layer <name>', `layer whose activations go to features.csv: ${FEATURE_LAYER_HELP}`, d.layer)
    .option('--resume <dir>', 'continue an interrupted run (Ctrl-C saves a checkpoint in its --out) with its settings; only --json, --debug, --backend and --threads may be added')
    .option('--restart', 'discard the checkpoint of an interrupted run in --out and start over (without it, such a run is refused)')
    .action(withGivenOptions<Sst2RunOptions>(runSst2));

  sst2.command('repeat')
    .description('train once per seed with the sst2 options (give them before or after "repeat") and report mean and spread of dev/test accuracy')
    .requiredOption('--seeds <list>', 'comma-separated seeds, e.g. 1,2,3')
    .configureHelp({ showGlobalOptions: true })
    .action(withParentOptions((opts: Sst2RunOptions & { seeds: string }) => runSst2Repeat(opts, opts.seeds)));

  // --json and --backend belong to `sst2` (its options are also recognised after `predict`:
  // the root program is not positional), so predict reads them with optsWithGlobals().
  sst2.command('predict')
    .description('print P(positive) for each sentence with a model saved by dnnkit sst2')
    .argument('[sentence...]', "sentences (quote each one); '-' reads them from standard input, one per line")
    .requiredOption('--model <dir>', 'the run folder dnnkit sst2 wrote (--out), or its model/ folder')
    .option('--file <path>', 'also read sentences from this file, one per line')
    .option('--shard <K/N|auto>', 'predict shard K of N (1-based; auto: SLURM/Kubernetes) of the sentences into --out DIR; join with dnnkit merge')
    .addHelpText('after', `
Also accepted: --json (one JSON document on stdout), --backend, --threads, --quiet, --debug, --out.
Prints P(positive)<TAB>sentence per line on stdout.

Examples:
  $ dnnkit sst2 predict --model outputs/sst2 "a gorgeous , witty film" "a dull mess"
  $ dnnkit sst2 predict --model outputs/sst2 --file reviews.txt
  $ cat reviews.txt | dnnkit sst2 predict --model outputs/sst2 -
  $ dnnkit sst2 predict --model outputs/sst2 --file reviews.txt --shard 1/2 --out outputs/reviews`)
    .action(withParentOptions(async (opts: PredictOptions & CommonOptions, args: string[]) => runSst2Predict(opts, await gatherSentences(args, opts.file)), ['out']));
}
