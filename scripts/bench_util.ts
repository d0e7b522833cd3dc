/**
 * What the benchmark scripts (bench.ts, bench_threads.ts, bench_explain.ts, bench_tsne.ts) share:
 * the median of the rounds, the load average as printed, and the python3 that has a peer's modules.
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';

/** The median (NaN for no values). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The 1-, 5- and 15-minute load averages, two decimals each. */
export function loadAverage(): string {
  return loadavg().map((l) => l.toFixed(2)).join(' ');
}

/** The first python3 that imports `modules` (e.g. 'torch, torchvision'; Debian's /usr/bin/python3 has torch 1.13). */
export function findPython(modules: string): string | undefined {
  return ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0);
}
