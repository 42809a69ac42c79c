import type { Clock, TimerId } from '../../src/engine/clock.js';

/** A clock for tests: time moves only when a test (or, for `virtualClock`, a sleep) moves it. */
export interface TestClock extends Clock {
  /** Every sleep asked for, in order (ms). */
  readonly sleeps: number[];
  /** Moves time forward by `ms`, making every scheduled call and ending every sleep due by then, in time order. */
  advance(ms: number): void;
}

interface Pending {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/**
 * A clock that moves only when `advance` is called: the watchdogs, timeouts and sleeps of code
 * under test fire exactly when the test says, whatever the machine's load.
 */
export function manualClock(start = 0): TestClock {
  return testClock(start, false);
}

/** A clock that only moves when slept on: every sleep advances time at once (firing what falls due) and is recorded. */
export function virtualClock(start = 0): TestClock {
  return testClock(start, true);
}

function testClock(start: number, sleepsMoveTime: boolean): TestClock {
  let current = start;
  let nextId = 1;
  let pending: Pending[] = [];
  const sleeps: number[] = [];
  const schedule = (ms: number, callback: () => void): number => {
    const id = nextId++;
    pending.push({ id, at: current + Math.max(0, ms), callback });
    pending.sort((a, b) => a.at - b.at || a.id - b.id);
    return id;
  };
  const cancel = (timer: TimerId | undefined) => {
    pending = pending.filter((call) => call.id !== timer);
  };
  const advance = (ms: number) => {
    const until = current + ms;
    for (let due = pending[0]; due !== undefined && due.at <= until; due = pending[0]) {
      pending.shift();
      current = due.at;
      due.callback();
    }
    current = until;
  };
  return {
    sleeps,
    advance,
    now: () => current,
    schedule,
    cancel,
    sleep: (ms, signal) => {
      sleeps.push(ms);
      if (sleepsMoveTime) {
        advance(ms);
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const id = schedule(ms, () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
        const onAbort = () => {
          cancel(id);
          resolve();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
