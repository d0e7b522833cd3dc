/**
 * Downloading a checkpoint (node:https / node:http): progress bar, SHA-256 verified while it
 * streams, written to a temporary file beside the target and renamed only when complete and
 * verified, so the cache never holds a half file. A dropped connection is cleanly restarted
 * (up to `retries` times); a wrong checksum is not retried.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { InputError } from '../core/errors.js';
import { tempPathFor } from '../core/fsutil.js';
import { createProgress } from '../core/progress.js';
import { isSilent, writeLine } from '../core/log.js';

export interface DownloadOptions {
  /** Required start of the file's SHA-256 (hex), e.g. from a torch.hub file name. */
  sha256Prefix?: string;
  /** Progress bar label. */
  label?: string;
  /** No progress bar. */
  quiet?: boolean;
  /** Restarts after a dropped connection (default 2). */
  retries?: number;
  /**
   * Stall window, ms (default $DNNKIT_DOWNLOAD_STALL_MS, else 30 s): a connection that sends no
   * headers, or less than STALL_MIN_BYTES of body, within one window counts as dropped (a server
   * trickling 1 byte every 5 s would otherwise hold a download forever).
   */
  idleTimeoutMs?: number;
}

/** Body bytes a download must receive per stall window (1 KiB: slower is a stall, not a download). */
export const STALL_MIN_BYTES = 1024;

/** The stall window: the option, else $DNNKIT_DOWNLOAD_STALL_MS (tests), else 30 s. */
function stallWindowMs(opts: DownloadOptions): number {
  if (opts.idleTimeoutMs !== undefined) return opts.idleTimeoutMs;
  const env = process.env.DNNKIT_DOWNLOAD_STALL_MS;
  if (env === undefined || env === '') return 30_000;
  const ms = Number(env);
  if (!Number.isFinite(ms) || ms <= 0) throw new InputError(`DNNKIT_DOWNLOAD_STALL_MS=${JSON.stringify(env)} is not a positive number of milliseconds; unset it or give e.g. 30000`);
  return ms;
}

/** Refuses URLs dnnkit cannot download from (only http: and https:), naming the URL. */
function assertHttpUrl(url: string, from?: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new InputError(`cannot download ${JSON.stringify(url)}: not a valid URL`);
  }
  if (protocol === 'http:' || protocol === 'https:') return;
  throw new InputError(from
    ? `downloading ${from} failed: the server redirected to ${url}, which is not an http(s) URL; dnnkit follows only http and https redirects (fetch the file by hand and run dnnkit models convert)`
    : `cannot download ${url}: dnnkit downloads only http and https URLs`);
}

/** The connection broke, timed out or ended early: worth a clean restart. */
export class DroppedConnectionError extends Error {}
/** The server could not be reached at all (no network, DNS, refused). */
export class UnreachableError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

const UNREACHABLE = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN', 'EAI_FAIL', 'EPERM', 'EACCES']);

function get(url: string, idleTimeoutMs: number): Promise<http.IncomingMessage> {
  assertHttpUrl(url);
  return new Promise((resolve, reject) => {
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.get(url, { headers: { 'user-agent': 'dnnkit' } }, resolve);
    req.setTimeout(idleTimeoutMs, () => req.destroy(new DroppedConnectionError(`no data for ${idleTimeoutMs / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof DroppedConnectionError) reject(err);
      else if (err.code && UNREACHABLE.has(err.code)) reject(new UnreachableError(err.message.includes(err.code) ? err.message : `${err.code}: ${err.message}`, err.code));
      else reject(new DroppedConnectionError(err.message));
    });
  });
}

/** One attempt: streams `url` into `tmp`, returns the byte count and SHA-256 hex. */
async function attempt(url: string, tmp: string, opts: DownloadOptions, redirects = 0): Promise<{ bytes: number; sha256: string }> {
  const windowMs = stallWindowMs(opts);
  const res = await get(url, windowMs);
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && res.headers.location) {
    res.resume();
    if (redirects >= 5) throw new InputError(`too many redirects downloading ${url}`);
    let next: string;
    try {
      next = new URL(res.headers.location, url).toString();
    } catch {
      throw new InputError(`downloading ${url} failed: the server redirected to ${JSON.stringify(res.headers.location)}, which is not a valid URL`);
    }
    assertHttpUrl(next, url);
    return attempt(next, tmp, opts, redirects + 1);
  }
  if (status !== 200) {
    res.resume();
    throw new InputError(`downloading ${url} failed: the server answered HTTP ${status}`);
  }
  const total = Number(res.headers['content-length'] ?? 0);
  // The bar counts megabytes (value/total) and shows the speed.
  const label = `${opts.label ?? path.basename(new URL(url).pathname)} (MB)`;
  const progress = createProgress({ total: total ? Math.ceil(total / 1e6) : 1, label, quiet: opts.quiet });
  const started = Date.now();
  const hash = createHash('sha256');
  const out = createWriteStream(tmp);
  let bytes = 0;
  let stallTimer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const fail = (err: Error) => {
        if (done) return;
        done = true;
        res.destroy();
        out.destroy();
        reject(err);
      };
      // Every window must bring STALL_MIN_BYTES (the socket timeout alone resets on each byte).
      let atWindowStart = 0;
      stallTimer = setInterval(() => {
        if (bytes - atWindowStart < STALL_MIN_BYTES) {
          fail(new DroppedConnectionError(`stalled: ${bytes - atWindowStart} bytes in the last ${windowMs / 1000} s`));
        }
        atWindowStart = bytes;
      }, windowMs);
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        progress.update(Math.floor(bytes / 1e6), { 'MB/s': bytes / 1e3 / Math.max(1, Date.now() - started) });
        if (!out.write(chunk)) {
          res.pause();
          out.once('drain', () => res.resume());
        }
      });
      res.on('aborted', () => fail(new DroppedConnectionError('the connection was closed early')));
      res.on('error', (err) => fail(new DroppedConnectionError(err.message)));
      out.on('error', (err) => fail(new InputError(`cannot write ${tmp} (${err.message})`)));
      res.on('end', () => {
        if (done) return;
        if (total && bytes !== total) return fail(new DroppedConnectionError(`got ${bytes} of ${total} bytes`));
        done = true;
        progress.update(Math.ceil(bytes / 1e6), { 'MB/s': bytes / 1e3 / Math.max(1, Date.now() - started) });
        out.end(() => resolve());
      });
      res.on('close', () => {
        if (!res.complete) fail(new DroppedConnectionError(`the connection was closed after ${bytes} bytes`));
      });
    });
  } finally {
    clearInterval(stallTimer);
    progress.stop();
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * Downloads `url` to `dest` atomically; verifies `sha256Prefix`. Throws UnreachableError when the
 * server cannot be reached, InputError for a bad answer or checksum, DroppedConnectionError when
 * every restart broke off. Nothing is left at `dest` (or beside it) on failure.
 */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<{ bytes: number; sha256: string }> {
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  const retries = opts.retries ?? 2;
  for (let i = 0; ; i++) {
    const tmp = tempPathFor(dest);
    try {
      const got = await attempt(url, tmp, opts);
      const want = opts.sha256Prefix?.toLowerCase();
      if (want && !got.sha256.startsWith(want)) {
        throw new InputError(`${path.basename(dest)} from ${url} has SHA-256 ${got.sha256.slice(0, 16)}..., expected it to start with ${want}; the download is corrupt or the server sent another file (nothing was cached)`);
      }
      await fsp.rename(tmp, dest);
      return got;
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      if (err instanceof DroppedConnectionError && i < retries) {
        if (!isSilent(opts.quiet)) writeLine(process.stderr, `download interrupted (${err.message}); restarting (${i + 1}/${retries})`);
        continue;
      }
      throw err;
    }
  }
}

/** SHA-256 of a file (hex), streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  const fh = await fsp.open(file, 'r');
  try {
    for await (const chunk of fh.createReadStream({ highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  } finally {
    await fh.close().catch(() => {});
  }
  return hash.digest('hex');
}
