/**
 * The model cache under $DNNKIT_HOME (default ~/.cache/dnnkit):
 *   checkpoints/<torchvision file>.pth   verified downloads
 *   models/<name>/model.json, weights.bin converted tfjs models
 * A registry name (resnet18, vgg16) holds only torchvision's checkpoint, verified by its pinned
 * SHA-256 and size; any other checkpoint is converted under a name of its own. Before downloading,
 * the copy PyTorch users already have ($TORCH_HOME/hub/checkpoints) is used when it verifies.
 * Every step is atomic: a download is renamed into checkpoints/ only when complete and verified; a
 * conversion is written into a temporary folder and renamed to models/<name> when complete.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { InputError, UsageError } from '../core/errors.js';
import { showPath } from '../core/quote.js';
import { isSilent, writeLine } from '../core/log.js';
import { removeStaleTemps, withLock } from '../core/fsutil.js';
import { MODEL_JSON } from '../core/model_io.js';
import { convertCheckpoint, openCheckedCheckpoint, type ConvertResult } from './convert.js';
import { DroppedConnectionError, downloadFile, sha256File, UnreachableError } from './download.js';
import { CACHE_NAME, cachedModelDir, checkpointPath, dnnkitHome, downloadUrl, isModelName, MODELS, sha256PrefixOf, torchHubCheckpointsDir, type ModelName } from './registry.js';

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
  /** The checkpoint was PyTorch's own copy ($TORCH_HOME/hub/checkpoints), not downloaded. */
  fromTorchHub?: boolean;
}

/** A checkpoint file's SHA-256 and size, and whether they are torchvision's for `name`. */
export interface CheckpointIdentity {
  sha256: string;
  bytes: number;
  /** True when the file is the registry's pinned torchvision checkpoint of the model. */
  verified: boolean;
}

/** Hashes `file` and compares it with the registry's pinned checkpoint of `name` (full SHA-256 and size). */
export async function identifyCheckpoint(file: string, name: ModelName): Promise<CheckpointIdentity> {
  const bytes = (await fsp.stat(file)).size;
  const sha256 = await sha256File(file);
  return { sha256, bytes, verified: sha256 === MODELS[name].sha256 && bytes === MODELS[name].bytes };
}

/**
 * The cache name of a conversion: `name` when given (a file name, not a registry name unless the
 * checkpoint is torchvision's), else the architecture. Throws a UsageError for a bad name.
 */
export function cacheNameFor(arch: ModelName, name: string | undefined): string {
  if (name === undefined) return arch;
  if (!CACHE_NAME.test(name)) throw new UsageError(`--name ${showPath(name)} is not a valid model name; use letters, digits, '.', '_' and '-' (e.g. ${arch}-finetuned)`);
  return name;
}

/** True when the converted model is in the cache. */
export function isCached(name: string, home?: string): boolean {
  return existsSync(path.join(cachedModelDir(name, home), MODEL_JSON));
}

/** The exact command that installs a model from a checkpoint obtained some other way. */
export function offlineHint(name: ModelName): string {
  return `download ${MODELS[name].file} (${MODELS[name].url}) on a machine with network, then run: dnnkit models convert ${MODELS[name].file} --arch ${name}`;
}

/**
 * Converts `pth` (architecture `arch`) into the cache entry `opts.name` (default: `arch`)
 * atomically (temporary folder, then rename). Used by `models pull` and by `models convert`
 * without --out. `opts.sha256`/`bytes` are the file's digest when the caller has it.
 */
export async function installConverted(pth: string, arch: ModelName, home?: string, opts: { name?: string; sha256?: string; bytes?: number } = {}): Promise<ConvertResult> {
  const name = opts.name ?? arch;
  const final = cachedModelDir(name, home);
  const parent = path.dirname(final);
  await fsp.mkdir(parent, { recursive: true });
  await removeStaleTemps(parent);
  const tmp = path.join(parent, `.dnnkit-tmp-${process.pid}-${Date.now()}-${name}`);
  try {
    const result = await convertCheckpoint(pth, arch, tmp, { source: path.basename(pth), sha256: opts.sha256, bytes: opts.bytes });
    await fsp.rm(final, { recursive: true, force: true });
    await fsp.rename(tmp, final);
    return { ...result, outDir: final };
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * `models convert FILE --arch A [--name N]` into the cache: a registry name (N omitted, or N = a
 * registry name) takes only torchvision's checkpoint, verified by full SHA-256 and size; any other
 * checkpoint needs a name of its own. The file is checked to be a checkpoint of `arch` first, so
 * that a wrong file gets the converter's error rather than a checksum one.
 */
export async function convertIntoCache(pth: string, arch: ModelName, opts: { name?: string; home?: string } = {}): Promise<ConvertResult & { name: string; sha256: string; verified: boolean }> {
  const name = cacheNameFor(arch, opts.name);
  (await openCheckedCheckpoint(pth, arch)).ckpt.close(); // not found, not a checkpoint, another architecture: the converter's own message
  if (isModelName(name) && name !== arch) {
    throw new UsageError(`--name ${name} is the registry name of another architecture; choose a name of its own for this ${arch} checkpoint (e.g. ${arch}-custom)`);
  }
  const id = await identifyCheckpoint(pth, arch);
  if (isModelName(name) && !id.verified) {
    throw new UsageError(`${showPath(path.basename(pth))} is not torchvision's ${MODELS[arch].file} (its SHA-256 is ${id.sha256.slice(0, 16)}..., ${id.bytes} bytes; `
      + `torchvision's is ${MODELS[arch].sha256.slice(0, 16)}..., ${MODELS[arch].bytes} bytes), and --model ${name} means only that checkpoint: `
      + `convert it under a name of its own with --name (e.g. --name ${arch}-custom), then use --model ${arch}-custom`);
  }
  const result = await installConverted(pth, arch, opts.home, { name, sha256: id.sha256, bytes: id.bytes });
  return { ...result, name, sha256: id.sha256, verified: id.verified };
}

/**
 * `models pull`: downloads torchvision's checkpoint (unless a verified copy is cached), verifies
 * its SHA-256 prefix, converts it and caches the tfjs model. Without network: an InputError that
 * says how to convert a local checkpoint instead.
 */
export async function pullModel(name: ModelName, opts: PullOptions = {}): Promise<PullResult> {
  const m = MODELS[name];
  return pullCheckpoint(name, { file: m.file, url: downloadUrl(name), sha256: m.sha256, bytes: m.bytes, torchHub: true }, opts);
}

/** PyTorch's own copy of a registry checkpoint ($TORCH_HOME/hub/checkpoints/<file>), if present. */
export function torchHubCopy(name: ModelName): string | undefined {
  const p = path.join(torchHubCheckpointsDir(), MODELS[name].file);
  return existsSync(p) ? p : undefined;
}

/** Where a checkpoint comes from and how it is verified. */
export interface CheckpointSource {
  /** File name (torch.hub style: its hex suffix is a SHA-256 prefix, checked when `sha256` is absent). */
  file: string;
  url: string;
  /** Full SHA-256 and size the file must have (the registry's pinned values). */
  sha256?: string;
  bytes?: number;
  /** Look in PyTorch's checkpoint folder first. */
  torchHub?: boolean;
}

/**
 * pullModel with the checkpoint given explicitly (file name carrying the SHA-256 prefix, URL):
 * lets tests serve their own checkpoint from a local server.
 */
export async function pullCheckpoint(name: ModelName, source: CheckpointSource, opts: PullOptions = {}): Promise<PullResult> {
  const home = dnnkitHome(opts.home);
  const modelDir = cachedModelDir(name, home);
  const pth = path.join(path.dirname(checkpointPath(name, home)), source.file);
  const say = (m: string) => { if (!isSilent(opts.quiet)) writeLine(process.stderr, m); };
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
async function pullLocked(name: ModelName, source: CheckpointSource, opts: PullOptions, home: string, modelDir: string, pth: string): Promise<PullResult> {
  // The full pinned SHA-256 when known, else the prefix in the file name.
  const prefix = source.sha256 ?? sha256PrefixOf(source.file);
  const say = (m: string) => { if (!isSilent(opts.quiet)) writeLine(process.stderr, m); };
  const good = async (file: string) => {
    const sha = await sha256File(file);
    const bytes = (await fsp.stat(file)).size;
    return { ok: (!prefix || sha.startsWith(prefix)) && (source.bytes === undefined || bytes === source.bytes), sha, bytes };
  };
  // PyTorch users already have the file: convert it from there (it is not copied).
  const hub = source.torchHub ? torchHubCopy(name) : undefined;
  if (hub && !existsSync(pth)) {
    const id = await good(hub);
    if (id.ok) {
      say(`using PyTorch's copy of ${source.file} in ${path.dirname(hub)} (SHA-256 and size verified; nothing to download)`);
      say(`converting ${source.file} to tfjs`);
      await installConverted(hub, name, home, { sha256: id.sha, bytes: id.bytes });
      say(`cached ${name} in ${modelDir}`);
      return { name, modelDir, checkpoint: hub, downloaded: false, converted: true, sha256: id.sha, fromTorchHub: true };
    }
    say(`PyTorch's copy ${hub} fails its checksum (SHA-256 ${id.sha.slice(0, 16)}..., ${id.bytes} bytes); downloading ${source.file} instead`);
  }
  await fsp.mkdir(path.dirname(pth), { recursive: true });
  await removeStaleTemps(path.dirname(pth));
  let downloaded = false;
  let sha256: string | undefined;
  let bytes: number | undefined;
  if (existsSync(pth)) {
    const id = await good(pth);
    ({ sha: sha256, bytes } = id);
    if (!id.ok) {
      say(`cached ${source.file} fails its checksum; downloading it again`);
      await fsp.rm(pth, { force: true });
    }
  }
  if (!existsSync(pth)) {
    const url = source.url;
    say(`downloading ${name} from ${url}`);
    try {
      ({ sha256, bytes } = await downloadFile(url, pth, { sha256Prefix: prefix, label: source.file, quiet: opts.quiet }));
      if (source.bytes !== undefined && bytes !== source.bytes) {
        await fsp.rm(pth, { force: true });
        throw new InputError(`${source.file} from ${url} has ${bytes} bytes, expected ${source.bytes}; the server sent another file (nothing was cached)`);
      }
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
  await installConverted(pth, name, home, { sha256, bytes });
  say(`cached ${name} in ${modelDir}`);
  return { name, modelDir, checkpoint: pth, downloaded, converted: true, sha256 };
}

export interface CacheEntry {
  /** A registry name (resnet18, vgg16) or a name given with `models convert --name`. */
  name: string;
  /** The architecture of the entry. */
  arch: string | null;
  description: string;
  cached: boolean;
  modelDir: string;
  /** Size of the converted model in bytes (0 when not cached). */
  bytes: number;
  /** The kept download (registry models), if any. */
  checkpoint?: string;
  /** The checkpoint file the entry was converted from, its SHA-256 and the conversion date (ISO). */
  source: string | null;
  sourceSha256: string | null;
  convertedAt: string | null;
  /** Registry names: whether the entry is torchvision's verified checkpoint (null: not cached, or a custom name). */
  verified: boolean | null;
}

interface EntryMetadata { arch?: string; source?: string; sourceSha256?: string; convertedAt?: string }

/** The dnnkit metadata of a converted model (model.json's userDefinedMetadata.dnnkit), and its date. */
async function readEntryMetadata(dir: string): Promise<EntryMetadata & { mtime: Date }> {
  const file = path.join(dir, MODEL_JSON);
  const [text, st] = await Promise.all([fsp.readFile(file, 'utf8'), fsp.stat(file)]);
  let meta: EntryMetadata = {};
  try {
    meta = ((JSON.parse(text) as { userDefinedMetadata?: { dnnkit?: EntryMetadata } }).userDefinedMetadata?.dnnkit) ?? {};
  } catch { /* a damaged model.json: listed without metadata */ }
  return { ...meta, mtime: st.mtime };
}

/**
 * Whether a cached registry entry is torchvision's checkpoint: its recorded SHA-256 is the pinned
 * one; an entry from before SHA-256s were recorded counts when its source file is torchvision's
 * file name (that path checked the name's SHA-256 prefix).
 */
export function isVerifiedEntry(name: ModelName, meta: EntryMetadata): boolean {
  if (meta.sourceSha256) return meta.sourceSha256 === MODELS[name].sha256;
  return meta.source === MODELS[name].file;
}

async function folderBytes(dir: string): Promise<number> {
  let bytes = 0;
  for (const f of await fsp.readdir(dir)) bytes += (await fsp.stat(path.join(dir, f))).size;
  return bytes;
}

/** What `models list` shows: every registry model, then every other converted model, with its source, SHA-256 and date. */
export async function listCache(home?: string): Promise<CacheEntry[]> {
  const out: CacheEntry[] = [];
  for (const name of Object.keys(MODELS) as ModelName[]) {
    const dir = cachedModelDir(name, home);
    const cached = isCached(name, home);
    const meta = cached ? await readEntryMetadata(dir) : undefined;
    const verified = meta ? isVerifiedEntry(name, meta) : null;
    const pth = checkpointPath(name, home);
    out.push({
      name, arch: name, cached, modelDir: dir, bytes: cached ? await folderBytes(dir) : 0,
      description: verified === false ? `${MODELS[name].description.split(',')[0]}, NOT torchvision's checkpoint (converted from ${meta?.source ?? 'an unknown file'}); run dnnkit models pull ${name} --force` : MODELS[name].description,
      checkpoint: existsSync(pth) ? pth : undefined,
      source: meta ? meta.source ?? null : null, sourceSha256: meta ? meta.sourceSha256 ?? null : null,
      convertedAt: meta ? meta.convertedAt ?? meta.mtime.toISOString() : null, verified,
    });
  }
  const root = path.join(dnnkitHome(home), 'models');
  const others = (await fsp.readdir(root, { withFileTypes: true }).catch(() => []))
    .filter((d) => d.isDirectory() && !d.name.startsWith('.') && !isModelName(d.name) && isCached(d.name, home)).map((d) => d.name).sort();
  for (const name of others) {
    const dir = cachedModelDir(name, home);
    const meta = await readEntryMetadata(dir);
    out.push({
      name, arch: meta.arch ?? null, cached: true, modelDir: dir, bytes: await folderBytes(dir),
      description: `${meta.arch ?? 'unknown architecture'} converted from ${meta.source ?? 'an unknown file'} (not a registry checkpoint; use --model ${name})`,
      source: meta.source ?? null, sourceSha256: meta.sourceSha256 ?? null, convertedAt: meta.convertedAt ?? meta.mtime.toISOString(), verified: null,
    });
  }
  return out;
}
