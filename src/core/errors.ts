/**
 * Errors meant for people. The CLI prints `message` on one line and exits with `exitCode`;
 * anything else is a bug and gets a stack trace with --debug. Node's system errors (errno codes
 * such as ENOSPC or EACCES) are neither: `describeSystemError` turns them into one line naming the
 * file and what to do.
 */
import * as os from 'node:os';
import * as path from 'node:path';

/** A wrong option value or argument: exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A problem with the user's files or environment found while running: exit code 1. */
export class InputError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Exit code for an error: 2 for usage, 1 otherwise. */
export function exitCodeOf(err: unknown): number {
  return err instanceof UsageError ? 2 : 1;
}

/** A Node system error: `code` is an errno name; `path`/`dest` name the files when Node knows them. */
export type SystemError = Error & { code: string; syscall?: string; path?: string; dest?: string };

/** Whether `err` is a Node system error (an `Exxx` errno code). */
export function isSystemError(err: unknown): err is SystemError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string' && /^E[A-Z0-9]+$/.test((err as unknown as { code: string }).code);
}

/**
 * Gives a system error without a path (a failed `write` on an open file handle names none) the
 * file it was about; returns `err` itself. Writers call it in their catch: `throw withPath(err, file)`.
 */
export function withPath<E>(err: E, file: string): E {
  if (isSystemError(err) && err.path === undefined) err.path = file;
  return err;
}

/** What went wrong and what to do, per errno code. */
const SYSTEM_ERROR_ADVICE: Record<string, { what: string; todo: string }> = {
  ENOSPC: { what: 'no space left on the device', todo: 'free some disk space or write to a folder on another disk' },
  EDQUOT: { what: 'disk quota exceeded', todo: 'free some space in your quota or write to a folder on another disk' },
  EFBIG: { what: 'file too large for the file system', todo: 'write to a folder on another file system' },
  EACCES: { what: 'permission denied', todo: 'check the permissions of the file and its folders, or use a folder you can write to' },
  EPERM: { what: 'operation not permitted', todo: 'check the permissions of the file and its folders, or use a folder you can write to' },
  EROFS: { what: 'read-only file system', todo: 'use a folder on a writable file system' },
  ENOENT: { what: 'no such file or folder', todo: 'check that the path and its parent folders exist' },
  ENOTDIR: { what: 'a part of the path is a file, not a folder', todo: 'check the path' },
  EISDIR: { what: 'is a folder, expected a file', todo: 'give the path of a file' },
  EEXIST: { what: 'already exists', todo: 'remove it or choose another path' },
  ENOTEMPTY: { what: 'folder not empty', todo: 'remove its contents or choose another path' },
  EMFILE: { what: 'too many open files in this process', todo: 'raise the limit (ulimit -n) and run again' },
  ENFILE: { what: 'too many open files on this system', todo: 'close other programs or raise the system limit, and run again' },
  ENAMETOOLONG: { what: 'file name too long', todo: 'choose a shorter path' },
  ELOOP: { what: 'too many levels of symbolic links', todo: 'check the symbolic links on the path' },
  EIO: { what: 'input/output error', todo: 'check the disk (or network file system) and run again' },
  EBUSY: { what: 'resource busy', todo: 'wait until the other program releases it, or choose another path' },
  ETXTBSY: { what: 'file busy', todo: 'wait until the other program releases it, or choose another path' },
  EXDEV: { what: 'cannot move across file systems', todo: 'keep the output folder on one file system' },
};

/** Verbs for the system calls whose names are not plain English. */
const SYSCALL_VERBS: Record<string, string> = {
  mkdir: 'create the folder', scandir: 'list', stat: 'read', lstat: 'read', fstat: 'read', access: 'access', unlink: 'remove', rmdir: 'remove',
  rm: 'remove', copyfile: 'copy', mkdtemp: 'create a folder in', fsync: 'write', ftruncate: 'write', utime: 'touch',
};

/** dnnkit's home (the model cache): $DNNKIT_HOME, else ~/.cache/dnnkit (as models/registry.ts's dnnkitHome). */
function homeFolder(env: NodeJS.ProcessEnv): string {
  return path.resolve(env.DNNKIT_HOME || path.join(os.homedir(), '.cache', 'dnnkit'));
}

/**
 * One line for a system error: the operation, the path(s), the errno meaning and code, and what
 * to do; for a path inside dnnkit's home, how to move it (DNNKIT_HOME). Undefined for other errors.
 * e.g. `cannot write /data/out/embed-pca.csv: no space left on the device (ENOSPC); free some disk
 * space or write to a folder on another disk`.
 */
export function describeSystemError(err: unknown, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!isSystemError(err)) return undefined;
  const advice = SYSTEM_ERROR_ADVICE[err.code];
  const what = advice?.what ?? (/^E[A-Z0-9]+: ([^,]+)/.exec(err.message)?.[1] ?? 'system error');
  let todo = advice?.todo ?? 'check the file and its folder, then run again';
  const op = `${SYSCALL_VERBS[err.syscall ?? ''] ?? err.syscall ?? 'use'} `;
  const files = err.path === undefined ? 'a file (Node did not say which; run with --debug for the stack)'
    : err.dest === undefined ? err.path : `${err.path} -> ${err.dest}`;
  if (err.path !== undefined) {
    const home = homeFolder(env);
    const abs = path.resolve(err.path);
    if (abs === home || abs.startsWith(home + path.sep)) {
      todo += `; ${abs === home ? 'it is' : 'it is inside'} dnnkit's home (the model cache, ${home}): set DNNKIT_HOME (or --home) to a writable folder`;
    }
  }
  return `cannot ${op}${files}: ${what} (${err.code}); ${todo}`;
}
