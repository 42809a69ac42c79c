import type { StreamEnd } from '../engine/connection.js';

// Pure functions of recorded arrival times (ms on one clock), so the timing rules are
// unit-tested with synthetic timings and the rules themselves only gather evidence.

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

/** How the connection ended after the terminal event. */
export type CloseVerdict =
  | { readonly kind: 'closed'; readonly afterMs: number }
  | { readonly kind: 'late'; readonly afterMs: number }
  | { readonly kind: 'not-closed'; readonly afterMs: number }
  | { readonly kind: 'no-terminal' };

/**
 * CONTRACT.md: the server ends the connection within `limitMs` after the terminal event.
 * `late` is an end past the limit; `not-closed` a connection we had to cut ourselves (or lost
 * to this machine's own limit). How it
 * ended (EOF or reset) is the clean-close rule's business, not this one's.
 */
export function closeAfterTerminal(terminalAt: number | undefined, end: StreamEnd, endedAt: number, limitMs: number): CloseVerdict {
  if (terminalAt === undefined) return { kind: 'no-terminal' };
  const afterMs = endedAt - terminalAt;
  if (['lingered', 'silence', 'max-duration', 'aborted', 'local-limit'].includes(end.kind)) return { kind: 'not-closed', afterMs };
  return afterMs <= limitMs ? { kind: 'closed', afterMs } : { kind: 'late', afterMs };
}

/** One token request of the rate-limit probe. */
export interface TokenAttempt {
  readonly sentAt: number;
  readonly status: number;
}

export type RateLimitVerdict =
  /** The request over the limit, inside the window, was answered 429. */
  | { readonly kind: 'limited'; readonly elapsedMs: number; readonly reopened: boolean | undefined }
  /** A request within the limit was already refused. */
  | { readonly kind: 'too-strict'; readonly index: number }
  /** The request over the limit, inside the window, was served. */
  | { readonly kind: 'not-limited'; readonly status: number; readonly elapsedMs: number }
  /** The requests took longer than the window: nothing can be concluded. */
  | { readonly kind: 'inconclusive'; readonly elapsedMs: number }
  /** A request after the window had passed was still refused. */
  | { readonly kind: 'window-too-long'; readonly probeAfterMs: number };

/**
 * Judges a burst of `limit + 1` token requests for one generation (and optionally a probe sent
 * one window after the burst) against "at most `limit` per `windowMs`".
 */
export function evaluateRateLimit(
  burst: readonly TokenAttempt[],
  limit: number,
  windowMs: number,
  probe?: TokenAttempt,
): RateLimitVerdict {
  // The probe stops at the first 429, so an early one leaves the burst short.
  const refused = burst.slice(0, limit).findIndex((attempt) => attempt.status === 429);
  if (refused >= 0) return { kind: 'too-strict', index: refused };
  const first = burst[0];
  const over = burst[limit];
  if (first === undefined || over === undefined) return { kind: 'inconclusive', elapsedMs: 0 };
  const elapsedMs = over.sentAt - first.sentAt;
  if (elapsedMs > windowMs) return { kind: 'inconclusive', elapsedMs };
  if (over.status !== 429) return { kind: 'not-limited', status: over.status, elapsedMs };
  if (probe === undefined) return { kind: 'limited', elapsedMs, reopened: undefined };
  const lastAt = burst[burst.length - 1]!.sentAt;
  // A probe sent before the window passed proves nothing; only a late one counts.
  if (probe.sentAt - lastAt < windowMs) return { kind: 'limited', elapsedMs, reopened: undefined };
  if (probe.status === 429) return { kind: 'window-too-long', probeAfterMs: probe.sentAt - lastAt };
  return { kind: 'limited', elapsedMs, reopened: true };
}
