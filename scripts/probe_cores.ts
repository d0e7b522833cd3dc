/**
 * Do the machine's cores run two threads at full speed side by side? A compute-bound loop and a
 * memory-bound loop (two 16 MB arrays), each run alone and then as two copies in two worker
 * threads at once; prints each run's milliseconds and together / alone. Near 1.0: the cores are
 * independent (docs/CORES.md); near 2.0: the two threads share one core.
 *
 *   node dist/scripts/probe_cores.js
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

function compute(): number {
  const t0 = performance.now();
  let x = 0;
  for (let i = 0; i < 4e8; i++) x += Math.sqrt(i) * 1.0000001;
  if (!(x > 0)) throw new Error('unreachable');
  return performance.now() - t0;
}

function memory(): number {
  const a = new Float32Array(4e6);
  const b = new Float32Array(4e6).fill(1);
  const t0 = performance.now();
  for (let r = 0; r < 60; r++) for (let i = 0; i < a.length; i++) a[i] = b[i] * 1.5 + a[i];
  return performance.now() - t0;
}

const kinds = { compute, memory };
type Kind = keyof typeof kinds;

if (!isMainThread) {
  parentPort!.postMessage(kinds[workerData as Kind]());
} else {
  const inWorker = (kind: Kind) => new Promise<number>((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: kind });
    w.once('message', resolve);
    w.once('error', reject);
  });
  for (const kind of Object.keys(kinds) as Kind[]) {
    const alone = await inWorker(kind);
    const together = await Promise.all([inWorker(kind), inWorker(kind)]);
    console.log(`${kind}: alone ${alone.toFixed(0)} ms; two at once ${together.map((t) => t.toFixed(0)).join(' and ')} ms (${(Math.max(...together) / alone).toFixed(2)}x)`);
  }
}
