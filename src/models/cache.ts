/**
 * The model cache under $DNNKIT_HOME (default ~/.cache/dnnkit):
 *   checkpoints/<torchvision file>.pth   verified downloads
 *   models/<name>/model.json, weights.bin converted tfjs models
 * Every step is atomic: a download is renamed into checkpoints/ only when complete and verified; a
 * conversion is written into a temporary folder and renamed to models/<name> when complete.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../core/errors.js';
import { removeStaleTemps, withLock } from '../core/fsutil.js';
import { MODEL_JSON } from '../core/model_io.js';
import { convertCheckpoint, type ConvertResult } from './convert.js';
import { DroppedConnectionError, downloadFile, sha256File, UnreachableError } from './download.js';
import { cachedModelDir, checkpointPath, dnnkitHome, downloadUrl, MODELS, sha256PrefixOf, type ModelName } from './registry.js';

export interface PullOptions {
  /** dnnkit home (default $DNNKIT_HOME or ~/.cache/dnnkit). */
  home?: string;
  /** No progress bar or messages. */
  quiet?: boolean;
  /** Convert again even when cached (downloads again only if the kept checkpoint is missing or fails its checksum). */
  force?: boolean;
}

export interface PullResult {
  name: ModelName;
  modelDir: string;
  checkpoint: string;
  downloaded: boolean;
  converted: boolean;
  sha256?: string;
}

/** True when the converted model is in the cache. */
export function isCached(name: ModelName, home?: string): boolean {
  return existsSync(path.join(cachedModelDir(name, home), MODEL_JSON));
}

/** The exact command that installs a model from a checkpoint obtained some other way. */
export function offlineHint(name: ModelName): string {
  return `download ${MODELS[name].file} (${MODELS[name].url}) on a machine with network, then run: dnnkit models convert ${MODELS[name].file} --arch ${name}`;
}

/**
 * Converts `pth` into the cache entry of `name` atomically (temporary folder, then rename).
 * Also used by `models convert` without --out.
 */
export async function installConverted(pth: string, name: ModelName, home?: string): Promise<ConvertResult> {
  const final = cachedModelDir(name, home);
  const parent = path.dirname(final);
  await fsp.mkdir(parent, { recursive: true });
  await removeStaleTemps(parent);
  const tmp = path.join(parent, `.dnnkit-tmp-${process.pid}-${Date.now()}-${name}`);
  try {
    const result = await convertCheckpoint(pth, name, tmp, { source: path.basename(pth) });
    await fsp.rm(final, { recursive: true, force: true });
    await fsp.rename(tmp, final);
    return { ...result, outDir: final };
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * `models pull`: downloads torchvision's checkpoint (unless a verified copy is cached), verifies
 * its SHA-256 prefix, converts it and caches the tfjs model. Without network: an InputError that
 * says how to convert a local checkpoint instead.
 */
export async function pullModel(name: ModelName, opts: PullOptions = {}): Promise<PullResult> {
  return pullCheckpoint(name, { file: MODELS[name].file, url: downloadUrl(name) }, opts);
}

/**
 * pullModel with the checkpoint given explicitly (file name carrying the SHA-256 prefix, URL):
 * lets tests serve their own checkpoint from a local server.
 */
export async function pullCheckpoint(name: ModelName, source: { file: string; url: string }, opts: PullOptions = {}): Promise<PullResult> {
  const home = dnnkitHome(opts.home);
  const modelDir = cachedModelDir(name, home);
  const pth = path.join(path.dirname(checkpointPath(name, home)), source.file);
  const say = (m: string) => { if (!opts.quiet) process.stderr.write(m + '\n'); };
  if (!opts.force && isCached(name, home)) {
    return { name, modelDir, checkpoint: pth, downloaded: false, converted: false };
  }
  // One pull of a model at a time: a second process waits, then finds the model cached.
  await fsp.mkdir(path.dirname(modelDir), { recursive: true });
  const lock = path.join(path.dirname(modelDir), `.${name}.pull.lock`);
  let waited = false;
  return withLock(lock, async () => {
    if (waited && isCached(name, home)) return { name, modelDir, checkpoint: pth, downloaded: false, converted: false };
    return pullLocked(name, source, opts, home, modelDir, pth);
  }, { onWait: (pid) => { waited = true; say(`another dnnkit${pid ? ` (pid ${pid})` : ''} is pulling ${name}; waiting for it`); } });
}

/** The body of pullCheckpoint, run while holding the model's pull lock. */
async function pullLocked(name: ModelName, source: { file: string; url: string }, opts: PullOptions, home: string, modelDir: string, pth: string): Promise<PullResult> {
  const prefix = sha256PrefixOf(source.file);
  const say = (m: string) => { if (!opts.quiet) process.stderr.write(m + '\n'); };
  await fsp.mkdir(path.dirname(pth), { recursive: true });
  await removeStaleTemps(path.dirname(pth));
  let downloaded = false;
  let sha256: string | undefined;
  if (existsSync(pth)) {
    sha256 = await sha256File(pth);
    if (prefix && !sha256.startsWith(prefix)) {
      say(`cached ${source.file} fails its checksum; downloading it again`);
      await fsp.rm(pth, { force: true });
    }
  }
  if (!existsSync(pth)) {
    const url = source.url;
    say(`downloading ${name} from ${url}`);
    try {
      sha256 = (await downloadFile(url, pth, { sha256Prefix: prefix, label: source.file, quiet: opts.quiet })).sha256;
    } catch (err) {
      if (err instanceof UnreachableError) {
        throw new InputError(`cannot download ${name}: ${url} is unreachable (${err.message}); without network, ${offlineHint(name)}`);
      }
      if (err instanceof DroppedConnectionError) {
        throw new InputError(`downloading ${name} from ${url} kept breaking off (${err.message}); nothing was cached: run dnnkit models pull ${name} again, or ${offlineHint(name)}`);
      }
      if (err instanceof InputError && /answered HTTP \d+/.test(err.message)) throw new InputError(`${err.message}; ${offlineHint(name)}`);
      throw err;
    }
    downloaded = true;
  }
  say(`converting ${source.file} to tfjs`);
  await installConverted(pth, name, home);
  say(`cached ${name} in ${modelDir}`);
  return { name, modelDir, checkpoint: pth, downloaded, converted: true, sha256 };
}

export interface CacheEntry {
  name: ModelName;
  description: string;
  cached: boolean;
  modelDir: string;
  /** Size of the converted model in bytes (0 when not cached). */
  bytes: number;
  checkpoint?: string;
}

/** What `models list` shows: every registry model and its cache state. */
export async function listCache(home?: string): Promise<CacheEntry[]> {
  const out: CacheEntry[] = [];
  for (const name of Object.keys(MODELS) as ModelName[]) {
    const dir = cachedModelDir(name, home);
    const cached = isCached(name, home);
    let bytes = 0;
    if (cached) {
      for (const f of await fsp.readdir(dir)) bytes += (await fsp.stat(path.join(dir, f))).size;
    }
    const pth = checkpointPath(name, home);
    out.push({ name, description: MODELS[name].description, cached, modelDir: dir, bytes, checkpoint: existsSync(pth) ? pth : undefined });
  }
  return out;
}
