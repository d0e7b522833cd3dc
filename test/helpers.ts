/**
 * Shared test helpers: run the CLI as a user would, make temp dirs, and find the Python oracles
 * (PyTorch, scikit-learn). Without an oracle a test is skipped with the reason, unless
 * DNNKIT_REQUIRE_ORACLES=1 (set by .ci/run), which turns a missing oracle into a failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

/** The repository root (tests run from dist/test/...). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'dnnkit.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node ...argv` in a child process; `stdin` (if given) is written to it, else stdin is closed. */
export function runNode(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; stdin?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, FORCE_COLOR: '0', ...opts.env },
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
  });
}

/** Runs `dnnkit ...args` in a child process. */
export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; stdin?: string } = {}): Promise<CliResult> {
  return runNode([BIN, ...args], opts);
}

/** The last line of stdout parsed as JSON (the --json summary). */
export function lastJson(res: CliResult): Record<string, unknown> {
  const lines = res.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** A fresh temporary directory, removed when the test ends. */
export function tempDir(t: TestContext, prefix = 'dnnkit-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A smaller copy of the shipped SST-2 (the first lines of each split) in `dir`/data, so that a run takes seconds. */
export function sst2Subset(dir: string, sizes: Record<string, number>): string {
  const out = path.join(dir, 'data');
  mkdirSync(out, { recursive: true });
  for (const [split, n] of Object.entries(sizes)) {
    const lines = readFileSync(path.join(ROOT, 'data', 'sst2', `${split}.tsv`), 'utf8').split('\n').slice(0, n);
    writeFileSync(path.join(out, `${split}.tsv`), lines.join('\n'));
  }
  return out;
}

/** Files in a directory (recursively), relative paths, sorted; [] if it does not exist. */
export function listFiles(dir: string): string[] {
  try {
    return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
      .filter((d) => d.isFile())
      .map((d) => path.relative(dir, path.join(d.parentPath ?? (d as unknown as { path: string }).path, d.name)))
      .sort();
  } catch {
    return [];
  }
}

const pythonCache = new Map<string, string | null>();

/** A python3 that imports every module in `modules`, or null. Prefers Debian's /usr/bin/python3. */
export function findPython(modules: string[]): string | null {
  const key = modules.join(',');
  if (pythonCache.has(key)) return pythonCache.get(key)!;
  let found: string | null = null;
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', modules.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore' });
    if (r.status === 0) {
      found = py;
      break;
    }
  }
  pythonCache.set(key, found);
  return found;
}

/**
 * Returns a python3 with `modules`, or skips the test saying why (fails instead when
 * DNNKIT_REQUIRE_ORACLES=1, as in CI).
 */
export function requireOracle(t: TestContext, modules: string[]): string | null {
  const py = findPython(modules);
  if (py) return py;
  const why = `oracle missing: no python3 with ${modules.join(', ')} (apt-get install python3-torch python3-torchvision python3-sklearn)`;
  if (process.env.DNNKIT_REQUIRE_ORACLES === '1') throw new Error(`${why}; DNNKIT_REQUIRE_ORACLES=1 makes this a failure`);
  t.skip(why);
  return null;
}
