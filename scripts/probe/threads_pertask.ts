/**
 * Per-thread CPU time of this process (Linux /proc/self/task) around a conv-heavy loop, to see
 * whether XNNPACK's pthreadpool worker shares the work: node dist/scripts/probe/threads_pertask.js [threads]
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { enableWasmThreads } from '../../src/core/wasm_threads.js';
import { initBackend } from '../../src/core/backend.js';

function taskTimes(): Map<string, { name: string; ticks: number }> {
  const out = new Map<string, { name: string; ticks: number }>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { name, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch { /* thread ended */ }
  }
  return out;
}

const threads = Number(process.argv[2] ?? '2');
console.log(await enableWasmThreads(threads));
const info = await initBackend('wasm');
console.log('backend threads', info.threads);
const x = tf.randomNormal([8, 56, 56, 64], 0, 1, 'float32', 1) as tf.Tensor4D;
const w = tf.randomNormal([3, 3, 64, 64], 0, 0.1, 'float32', 2) as tf.Tensor4D;
const run = () => { const y = tf.conv2d(x, w, 1, 'same'); y.dataSync(); y.dispose(); };
run();
const before = taskTimes();
const c0 = process.cpuUsage(); const t0 = performance.now();
for (let i = 0; i < 20; i++) run();
const wallMs = performance.now() - t0; const c = process.cpuUsage(c0);
const after = taskTimes();
const busy = [...after].map(([tid, a]) => ({ tid, name: a.name, ms: (a.ticks - (before.get(tid)?.ticks ?? 0)) * 10 })).filter((t) => t.ms > 0);
console.log(JSON.stringify({ threads: info.threads, wallMs: Math.round(wallMs), cpuMs: Math.round((c.user + c.system) / 1000), busyThreads: busy }));
