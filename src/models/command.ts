/**
 * Commands of the models module: `models list|pull|convert` and `classify`. Names and choices come
 * from the registry (registry.ts).
 */
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Argument, Command, Option } from 'commander';
import { action, addCommonOptions, recorded, type CommonOptions, type RunOutcome } from '../core/command.js';
import { InputError, UsageError } from '../core/errors.js';
import { invalidateRunRecord } from '../core/run_record.js';
import { prepareOutDir, removePendingTemps } from '../core/fsutil.js';
import { createLogger } from '../core/log.js';
import { SHARD_OPTION_HELP } from '../core/shard.js';
import { convertIntoCache, identifyCheckpoint, listCache, pullModel, type CacheEntry, type PullResult } from './cache.js';
import { run as runClassify, DEFAULT_CLASSIFY_MODEL, type ClassifyOptions } from './classify.js';
import { convertCheckpoint, type ConvertResult } from './convert.js';
import { dnnkitHome, MODEL_NAMES, MODELS, sha256PrefixOf, type ModelName } from './registry.js';

interface ModelsOptions extends Pick<CommonOptions, 'json' | 'debug'> {
  home?: string;
}

export async function runList(opts: ModelsOptions): Promise<{ home: string; models: CacheEntry[] }> {
  const home = dnnkitHome(opts.home);
  const models = await listCache(home);
  const log = createLogger(opts.json);
  log.output(`model cache: ${home}`);
  for (const m of models) {
    log.output('');
    log.output(`${m.name.padEnd(12)} ${m.cached ? `cached  ${(m.bytes / 1e6).toFixed(0).padStart(4)} MB  ${m.modelDir}` : `not cached (dnnkit models pull ${m.name})`}`);
    log.output(`${''.padEnd(12)} ${m.description}`);
    if (m.cached) {
      log.output(`${''.padEnd(12)} source ${m.source ?? '(not recorded)'}  SHA-256 ${m.sourceSha256 ?? '(not recorded)'}  converted ${m.convertedAt?.slice(0, 10) ?? '?'}`);
    }
    if (m.checkpoint) log.output(`${''.padEnd(12)} checkpoint ${m.checkpoint} (safe to delete: the converted model does not need it)`);
  }
  return { home, models };
}

export async function runPull(opts: ModelsOptions & { force?: boolean }, name: ModelName): Promise<PullResult> {
  const r = await pullModel(name, { home: opts.home, quiet: opts.json, force: opts.force });
  const log = createLogger(opts.json);
  if (!r.converted) log.result(`${name} is already cached in ${r.modelDir} (use --force to convert it again)`);
  else log.result(`${name} cached in ${r.modelDir}`);
  return r;
}

export interface ConvertOptions extends ModelsOptions {
  arch: ModelName;
  /** Output folder; default: the model cache. */
  out?: string;
  /** Cache name of the conversion (default: --arch, which takes only torchvision's checkpoint). */
  name?: string;
}

export type ConvertSummary = ConvertResult & { name: string | null; sha256: string; verified: boolean };

export async function runConvert(opts: ConvertOptions, file: string): Promise<ConvertSummary | RunOutcome<ConvertSummary>> {
  const log = createLogger(opts.json);
  // torchvision's own file name (e.g. fetched by hand for an offline machine) must carry its checksum.
  if (path.basename(file) === MODELS[opts.arch].file && existsSync(file)) {
    const id = await identifyCheckpoint(file, opts.arch);
    if (!id.verified) {
      throw new InputError(`${file} has SHA-256 ${id.sha256.slice(0, 16)}... and ${id.bytes} bytes, but torchvision's ${MODELS[opts.arch].file} starts with ${sha256PrefixOf(MODELS[opts.arch].file)} (${MODELS[opts.arch].sha256}, ${MODELS[opts.arch].bytes} bytes): the file is corrupt or incomplete; download it again`);
    }
    log.info(`${path.basename(file)}: SHA-256 and size verified`);
  }
  if (opts.out) {
    if (opts.name !== undefined) throw new UsageError('--name names a conversion into the model cache; with --out the model goes to that folder (give one of the two)');
    // The same --out lock as every command (a convert must not replace a model train-mnist is
    // writing); it also removes temporary files left there by a killed dnnkit.
    const out = await prepareOutDir(opts.out);
    await invalidateRunRecord(out);
    const id = await identifyCheckpoint(file, opts.arch).catch(() => undefined); // a missing file: the converter's own message
    const result = await removingTempsOnSignal(() => convertCheckpoint(file, opts.arch, out, { sha256: id?.sha256, bytes: id?.bytes }));
    log.result(`converted ${file} (${result.checkpointFormat} format, ${(result.parameters / 1e6).toFixed(1)} M parameters) to ${result.outDir}`);
    const summary: ConvertSummary = { ...result, name: null, sha256: id!.sha256, verified: id!.verified };
    return recorded(summary, ['model.json', 'weights.bin'], { outDir: out, settings: { file, arch: opts.arch, out } });
  }
  const r = await removingTempsOnSignal(() => convertIntoCache(file, opts.arch, { name: opts.name, home: opts.home }));
  log.result(`converted ${file} (${r.checkpointFormat} format, ${(r.parameters / 1e6).toFixed(1)} M parameters) to ${r.outDir}; use it with --model ${r.name}`);
  return { ...r };
}

/**
 * Runs `fn` with SIGINT/SIGTERM handlers that remove the temporary files being written and exit
 * with 128 + the signal number, so that an interrupted conversion leaves no half file beside its
 * output. (A conversion into the cache writes a temporary folder instead, which the next
 * conversion removes, as prepareOutDir does for --out after a kill -9.)
 */
async function removingTempsOnSignal<T>(fn: () => Promise<T>): Promise<T> {
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`dnnkit: ${signal}: conversion stopped; its temporary files are removed\n`);
    void removePendingTemps().finally(() => process.exit(128 + (os.constants.signals[signal] ?? 15)));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function register(program: Command): void {
  const home = () => new Option('--home <dir>', 'dnnkit home holding the model cache (default $DNNKIT_HOME or ~/.cache/dnnkit)');
  const models = program.command('models').description('pretrained ImageNet models: list, pull (download + convert), convert a local .pth');
  models.command('list').description('show the registry models and what is cached')
    .addOption(home())
    .option('--json', 'print a JSON summary on stdout', false)
    .option('--debug', 'show stack traces on errors', false)
    .action(action(runList as (o: CommonOptions) => Promise<object>));
  models.command('pull').description('download a torchvision checkpoint, verify its SHA-256, convert it to tfjs and cache it')
    .addArgument(new Argument('<name>', 'model to pull').choices(MODEL_NAMES))
    .addOption(home())
    .option('--force', 'convert again even when cached (re-downloads only a missing or corrupt checkpoint)', false)
    .option('--quiet', 'no progress or log lines on stderr', false)
    .option('--json', 'print a JSON summary on stdout', false)
    .option('--debug', 'show stack traces on errors', false)
    .action(action((o: CommonOptions, args: string[]) => runPull(o as unknown as ModelsOptions, args[0] as ModelName)));
  models.command('convert').description('convert a torchvision checkpoint (.pth, zip or legacy format) to a tfjs layers model, into the cache (--name) or a folder (--out)')
    .argument('<file>', 'the .pth checkpoint (a state_dict saved with torch.save)')
    .addOption(new Option('--arch <name>', 'architecture of the checkpoint').choices(MODEL_NAMES).makeOptionMandatory())
    .option('--out <dir>', 'output folder (default: the model cache)')
    .option('--name <name>', 'cache name of the converted model, used as --model <name> (default: --arch, which holds only torchvision\'s own checkpoint)')
    .option('--quiet', 'no log lines on stderr', false)
    .addOption(home())
    .option('--json', 'print a JSON summary on stdout', false)
    .option('--debug', 'show stack traces on errors', false)
    .action(action((o: CommonOptions, args: string[]) => runConvert(o as unknown as ConvertOptions, args[0])));

  addCommonOptions(
    program.command('classify').description('top-5 classes of images under an ImageNet model (or any tfjs image classifier)')
      .argument('<images...>', 'image files (PNG, JPEG, WebP, GIF, TIFF) or folders of them')
      .option('--model <name|path>', `${MODEL_NAMES.join(' | ')} | path to a tfjs model.json or its folder`, DEFAULT_CLASSIFY_MODEL)
      .addOption(home())
      .option('--recursive', 'folders: also take the images in their sub-folders', false)
      .option('--shard <K/N|auto>', SHARD_OPTION_HELP)
      .addHelpText('after', `
Writes predictions.csv (file,rank,index,label,probability) in --out; with --shard K/N,
predictions.shard-K-of-N.csv, joined by dnnkit merge.

Examples:
  $ dnnkit classify data/images/chelsea.png data/images/coffee.png
  $ dnnkit classify --recursive --shard 1/4 --out outputs/classify-photos data/images`),
    'classify',
  ).action(action((o: CommonOptions, args: string[]) => runClassify(o as ClassifyOptions, args)));
}
