import { timerMs } from './delay.js';

/** A call scheduled on a clock, to hand back to `cancel`. */
export type TimerId = NodeJS.Timeout | number;

/** Time as the engines see it: injectable so schedules, watchdogs and timeouts are tested in milliseconds. */
export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `callback` once, `ms` from now, unless cancelled first: a watchdog's timer, with no promise. */
  schedule(ms: number, callback: () => void): TimerId;
  /** Cancels a scheduled call; a call already made or cancelled is left alone. */
  cancel(timer: TimerId | undefined): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const onAbort = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, timerMs(ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
  schedule: (ms, callback) => setTimeout(callback, timerMs(ms)),
  cancel: (timer) => clearTimeout(timer),
};
