/**
 * The thread plumbing of synchronous data parallelism: a worker thread that answers requests one
 * at a time (ReplicaThread, main side) and the loop that serves them (serveRequests, worker
 * side). A request and its reply are plain objects; typed arrays listed in `transfer` move
 * without a copy. The training maths (which rows, which loss, the fixed summation order) is the
 * caller's: src/mnist/parallel.ts.
 */
import { parentPort, Worker } from 'node:worker_threads';

/**
 * Milliseconds on the machine's monotonic clock, the same in every thread of the process
 * (performance.now() has a per-thread origin): to time a request across threads.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** A reply carrying an error raised in the worker. */
interface ErrorReply {
  error: string;
}

/** The main thread's handle on one worker thread. */
export class ReplicaThread<Req, Rep> {
  private readonly worker: Worker;
  private pending: { resolve: (r: Rep) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  /** When (monotonicMs) the last request was sent and its reply arrived on this thread's event loop. */
  lastSentAt = NaN;
  lastReplyAt = NaN;

  /** Starts `script` (a compiled ES module) with `workerData`. */
  constructor(script: URL, workerData: unknown) {
    this.worker = new Worker(script, { workerData });
    this.worker.on('message', (m: Rep | ErrorReply) => {
      this.lastReplyAt = monotonicMs();
      const p = this.pending;
      this.pending = undefined;
      if (!p) return;
      if (m && typeof m === 'object' && 'error' in m) p.reject(new Error(`replica thread: ${(m as ErrorReply).error}`));
      else p.resolve(m as Rep);
    });
    const fail = (err: Error) => {
      this.failure = err;
      this.pending?.reject(err);
      this.pending = undefined;
    };
    this.worker.on('error', (err) => fail(new Error(`replica thread failed: ${err.message}`)));
    this.worker.on('exit', (code) => fail(new Error(`replica thread exited (code ${code})`)));
  }

  /** Sends one request; resolves with its reply. One request at a time. */
  call(req: Req, transfer: ArrayBuffer[] = []): Promise<Rep> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error('ReplicaThread.call: a request is already pending'));
    return new Promise<Rep>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.lastSentAt = monotonicMs();
      this.worker.postMessage(req, transfer);
    });
  }

  /** Ends the thread (pending requests are rejected). */
  async close(): Promise<void> {
    this.failure ??= new Error('replica thread closed');
    await this.worker.terminate();
  }
}

/**
 * Worker side: answers each request with `handle`'s reply (its `transfer` list moved, not
 * copied); an exception becomes an error reply, so the main thread's call rejects with it.
 */
export function serveRequests<Req, Rep>(handle: (req: Req) => Promise<{ reply: Rep; transfer?: ArrayBuffer[] }>): void {
  if (!parentPort) throw new Error('serveRequests must run in a worker thread');
  const port = parentPort;
  // Requests are handled one after another (the main thread sends one at a time anyway).
  let queue = Promise.resolve();
  port.on('message', (req: Req) => {
    queue = queue.then(async () => {
      try {
        const { reply, transfer } = await handle(req);
        port.postMessage(reply, transfer ?? []);
      } catch (err) {
        port.postMessage({ error: (err as Error)?.stack ?? String(err) } satisfies ErrorReply);
      }
    });
  });
}
