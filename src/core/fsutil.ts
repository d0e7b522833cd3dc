/**
 * File output that never leaves half-written files: every write goes to a temporary file in the
 * same directory, then is renamed over the target (rename is atomic on one filesystem).
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp, constants as fsConstants, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError, UsageError, withPath } from './errors.js';

let counter = 0;
const pending = new Set<string>();

/**
 * This machine in temporary names (8 hex digits of its host name's SHA-256): shards on several
 * hosts write into one shared --out, and another host's live writer has a pid that means nothing
 * here, so removeStaleTemps must leave its temporaries alone.
 */
const HOST_TAG = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);

/** A unique temporary path beside `target` (same directory, so rename is atomic): `.dnnkit-tmp-<pid>.<host>-<n>-<name>`. */
export function tempPathFor(target: string): string {
  counter += 1;
  return path.join(path.dirname(target), `.dnnkit-tmp-${process.pid}.${HOST_TAG}-${counter}-${path.basename(target)}`);
}

/**
 * `mkdir -p` that cannot loop: Node's recursive mkdir retries for ever when mkdir of a new name
 * answers ENOENT although the parent exists (procfs: `--out /proc/x` hung, strace shows
 * mkdir("/proc/x") ENOENT, mkdir("/proc") EEXIST, repeated). Creates the missing folders from the
 * top down, one at a time; the first error names its folder.
 */
export async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    if (await fsp.stat(p).then(() => true, () => false)) break;
    missing.push(p);
    if (path.dirname(p) === p) break;
  }
  for (const p of missing.reverse()) {
    await fsp.mkdir(p).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw withPath(err, p);
    });
  }
}

/**
 * Writes `data` to `target` atomically (temp file + rename), creating the directory. With
 * `sync`, the file's data is flushed to disk before the rename and the directory after it, so
 * that the new file survives a power loss too (a kill never needs it: the rename is atomic).
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array, opts: { sync?: boolean } = {}): Promise<void> {
  await makeDirs(path.dirname(target));
  const tmp = tempPathFor(target);
  pending.add(tmp);
  try {
    await fsp.writeFile(tmp, data);
    if (opts.sync) await syncPath(tmp);
    await fsp.rename(tmp, target);
    if (opts.sync) await syncPath(path.dirname(target));
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    // A failed write() names no file (`ENOSPC: no space left on device, write`): give it the target.
    throw withPath(err, target);
  } finally {
    pending.delete(tmp);
  }
}

/**
 * Marks a temporary file or folder as being written by this process, so that an error or an
 * interrupt removes it (removePendingTemps); the returned function unmarks it once it has been
 * renamed into place or removed.
 */
export function trackPendingTemp(tmp: string): () => void {
  pending.add(tmp);
  return () => pending.delete(tmp);
}

/** Removes temporary files and folders still being written (called on SIGINT/SIGTERM before exit). */
export async function removePendingTemps(): Promise<void> {
  await Promise.all([...pending].map((p) => fsp.rm(p, { recursive: true, force: true })));
}

/**
 * Flushes a file's data, or a directory's entries (the renames in it), to disk (fsync). Where a
 * platform cannot fsync a directory (Windows), that step is skipped.
 */
export async function syncPath(p: string): Promise<void> {
  let fh;
  try {
    fh = await fsp.open(p, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EISDIR' || (err as NodeJS.ErrnoException).code === 'EPERM') return;
    throw err;
  }
  try {
    await fh.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF' && code !== 'EISDIR') throw err;
  } finally {
    await fh.close();
  }
}

/** Byte size and SHA-256 (hex) of a file, read as a stream. */
export async function fileDigest(file: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Throws an InputError unless `file` is a readable regular file. */
export async function assertReadableFile(file: string, what = 'file'): Promise<void> {
  let st;
  try {
    st = await fsp.stat(file);
  } catch {
    throw new InputError(`${what} not found: ${file}`);
  }
  if (st.isDirectory()) throw new InputError(`${what} is a directory, expected a file: ${file}`);
  if (st.size === 0) throw new InputError(`${what} is empty: ${file}`);
  await fsp.access(file, fsConstants.R_OK).catch(() => {
    throw new InputError(`${what} is not readable: ${file} (check its permissions)`);
  });
}

/**
 * Removes temporary files/folders left in `dir` by dnnkit processes of this machine that are no
 * longer running (names without a host tag, from older versions, count as this machine's).
 */
export async function removeStaleTemps(dir: string): Promise<void> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    const m = /^\.dnnkit-tmp-(\d+)(?:\.([0-9a-f]{8}))?-/.exec(n);
    if (!m || (m[2] !== undefined && m[2] !== HOST_TAG)) continue;
    if (!pidAlive(Number(m[1]))) await fsp.rm(path.join(dir, n), { recursive: true, force: true });
  }
}

/**
 * Checks that `dir` can be created and written, before any work starts, so that a bad --out
 * fails fast with nothing written. Creates the directory and locks it for this process (with
 * `lock`, that lock file instead: the shards of a run, core/shard.ts, share one --out).
 */
export async function prepareOutDir(dir: string, opts: { lock?: string } = {}): Promise<string> {
  const abs = path.resolve(dir);
  try {
    const st = await fsp.stat(abs).catch(() => undefined);
    if (st && !st.isDirectory()) throw new UsageError(`--out ${dir} is a file, not a directory; choose another --out`);
    await makeDirs(abs);
    await fsp.access(abs, fsConstants.W_OK);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot write to --out ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose a writable directory`);
  }
  await lockOutDir(abs, opts.lock);
  await removeStaleTemps(abs); // left by a dnnkit that was killed (kill -9) while writing here
  return abs;
}

const LOCK_NAME = '.dnnkit.lock';
const heldLocks = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One attempt at a lock file (created with O_EXCL, holding our pid). Returns undefined when we
 * hold it now, otherwise the pid of the live process that holds it (0: a holder that is still
 * writing its pid). A lock left by a process that no longer runs is removed and taken over.
 */
async function tryLock(lock: string): Promise<number | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fsp.writeFile(lock, String(process.pid), { flag: 'wx' });
      heldLocks.add(lock);
      return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const text = (await fsp.readFile(lock, 'utf8').catch(() => '')).trim();
      const pid = Number(text);
      if (text === '') {
        // Created but not yet written (another process is between open and write), unless old.
        const st = await fsp.stat(lock).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs < 5000) return 0;
      } else if (Number.isInteger(pid) && pid > 0 && pidAlive(pid) && (pid !== process.pid || heldLocks.has(lock))) {
        return pid;
      }
      await fsp.rm(lock, { force: true }); // stale: its process is gone
    }
  }
  throw new UsageError(`could not take the lock ${lock}; remove it if no dnnkit is running`);
}

/**
 * Takes an exclusive lock on an output directory. A second dnnkit writing to the same --out
 * fails with a clear message; a lock left by a process that no longer runs is taken over.
 * Released at exit.
 */
export async function lockOutDir(dir: string, name = LOCK_NAME): Promise<void> {
  const lock = path.join(dir, name);
  if (heldLocks.has(lock)) return;
  const holder = await tryLock(lock);
  if (holder !== undefined) {
    throw new UsageError(`another dnnkit${holder ? ` (pid ${holder})` : ''} is writing to --out ${dir}; wait for it to finish or choose another --out`);
  }
}

/**
 * Runs `fn` holding the lock file `lock`, waiting (polling every `pollMs`) while another live
 * process holds it; `onWait(pid)` is called once when waiting starts. Used where a second
 * process should wait rather than fail (two pulls of the same model).
 */
export async function withLock<T>(lock: string, fn: () => Promise<T>, opts: { onWait?: (pid: number) => void; pollMs?: number } = {}): Promise<T> {
  let waited = false;
  for (;;) {
    const holder = await tryLock(lock);
    if (holder === undefined) break;
    if (!waited) opts.onWait?.(holder);
    waited = true;
    await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 250));
  }
  try {
    return await fn();
  } finally {
    heldLocks.delete(lock);
    await fsp.rm(lock, { force: true });
  }
}

/** Releases every lock this process holds (synchronously: safe in an exit handler). */
export function releaseOutLocks(): void {
  for (const lock of heldLocks) {
    try {
      rmSync(lock, { force: true });
    } catch {
      // nothing left to do at exit
    }
  }
  heldLocks.clear();
}
process.on('exit', releaseOutLocks);
