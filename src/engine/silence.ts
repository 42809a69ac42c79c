import type { StreamEnd } from './connection.js';

// Pure functions of recorded arrival times (ms on one clock): the stream observer (tail, replay,
// load) and the check rules judge silences with the same arithmetic.

/** The longest stretch without a sign of life (event or comment) while a stream was live. */
export interface Silence {
  readonly gapMs: number;
  /** When the silence ended (ms on the recording clock). */
  readonly endedAt: number;
}

/**
 * Longest gap between the headers (`openAt`), each sign of life and `until` (the terminal
 * event, or the end of the connection when there was none). Signs after `until` are ignored:
 * silence after the terminal event is the close rule's business, not the heartbeat's.
 */
export function longestSilence(openAt: number, signs: readonly number[], until: number): Silence {
  let longest: Silence = { gapMs: 0, endedAt: openAt };
  let previous = openAt;
  for (const at of [...signs].sort((a, b) => a - b)) {
    if (at > until) break;
    if (at - previous > longest.gapMs) longest = { gapMs: at - previous, endedAt: at };
    previous = at;
  }
  if (until - previous > longest.gapMs) longest = { gapMs: until - previous, endedAt: until };
  return longest;
}

/**
 * How late a heartbeat may come before its silence counts against the interval. A backend whose
 * timer is the interval itself (seed 001: "Periodic Heartbeats: Every 5 seconds", a heartbeat once
 * 5 s passed without a write) sends it a little late, by its event loop, the network and our own
 * reading: 5001 ms against a 5 s interval is that backend keeping its promise, not breaking it.
 * Small, so a target that thinks only a little longer than the interval without a heartbeat fails.
 */
const HEARTBEAT_GRACE = 0.05;

/** Whether a silence of `gapMs` breaks a heartbeat interval of `intervalMs`, a late timer's grace allowed. */
export function longerThanHeartbeat(gapMs: number, intervalMs: number): boolean {
  return gapMs > intervalMs * (1 + HEARTBEAT_GRACE);
}

/**
 * Idle timeouts users deploy are a second or more (nginx's proxy_read_timeout defaults to 60 s);
 * a cut after a much shorter silence is more likely a backend dropping the connection. Half a
 * second leaves room for a 1 s timeout measured from our side of the connection.
 */
export const MIN_IDLE_TIMEOUT_MS = 500;

/**
 * The silence that ended in a cut: a connection that broke or closed without a terminal event
 * after at least `MIN_IDLE_TIMEOUT_MS` without a byte, longer than any silence before it.
 * Undefined when the connection ended any other way.
 */
export function silenceBeforeCut(openAt: number | undefined, signs: readonly number[], end: StreamEnd, endedAt: number, sawTerminal: boolean): number | undefined {
  if (openAt === undefined || sawTerminal || !['reset', 'abrupt-close', 'clean-no-terminal'].includes(end.kind)) return undefined;
  const silence = longestSilence(openAt, signs, endedAt);
  if (silence.endedAt !== endedAt || silence.gapMs < MIN_IDLE_TIMEOUT_MS) return undefined;
  return silence.gapMs;
}

/**
 * Two cuts after silences this close (or within 30 %) are the same timeout: a proxy's timer and
 * ours both run late on a busy machine, by different amounts.
 */
const SAME_TIMEOUT_MS = 500;

/** Whether two cuts came after the same silence: one idle timeout cutting each time. */
export function sameSilence(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(SAME_TIMEOUT_MS, 0.3 * Math.min(a, b));
}
