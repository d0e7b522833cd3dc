/**
 * Ctrl-C / SIGTERM during training: the first signal asks the training loop to save a
 * checkpoint after the current batch (the loop polls `requested()`), the second exits at once.
 * The loop must yield to the event loop once per batch (setImmediate) for the handler to run.
 */
import type { Logger } from './log.js';

export interface InterruptWatch {
  /** True once a signal asked the run to stop. */
  requested(): boolean;
  /** Removes the handlers. */
  dispose(): void;
}

export function watchInterrupts(log: Logger): InterruptWatch {
  let requested = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (requested) {
      log.warn(`${signal} again: exiting without a checkpoint`);
      process.exit(130);
    }
    requested = true;
    log.warn(`${signal}: finishing the current batch, then saving a checkpoint (press again to quit at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    requested: () => requested,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Lets pending macrotasks (signal handlers, progress timers) run. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
