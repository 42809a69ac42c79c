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

/** An event as the buffering rule sees it: when it arrived, and when the server says it made it. */
export interface TimedEvent {
  readonly arrivedAt: number;
  /** The event's own `timestamp` in ms (unix seconds × 1000), on the server's clock. */
  readonly producedAt: number;
}

/** The event delivered latest relative to when it was made. */
export interface HeldBack {
  readonly index: number;
  /** How much later than the best-delivered event it arrived, relative to production (ms). */
  readonly extraDelayMs: number;
  /** Events that arrived together with it (within `burstGapMs`). */
  readonly burstSize: number;
}

export interface HoldBackVerdict {
  /** Events made after the connection opened: the ones buffering can delay. */
  readonly live: number;
  readonly worst: HeldBack | undefined;
}

/**
 * How long events were held back between the generator and us. The two clocks differ by an
 * unknown offset, so each event's lag (arrival minus production) is compared with the smallest
 * lag of the stream, the event delivered at once. Events made before the connection opened (the
 * history a server replays on connect) are left out: their lag is their age, not buffering.
 */
export function heldBackEvents(events: readonly TimedEvent[], openAt: number, burstGapMs: number): HoldBackVerdict {
  if (events.length === 0) return { live: 0, worst: undefined };
  const lags = events.map((event) => event.arrivedAt - event.producedAt);
  const minLag = Math.min(...lags);
  let live = 0;
  let worst: HeldBack | undefined;
  events.forEach((event, index) => {
    // The production time on our clock, assuming the best-delivered event arrived at once.
    if (event.producedAt + minLag < openAt) return;
    live++;
    const extraDelayMs = lags[index]! - minLag;
    if (worst === undefined || extraDelayMs > worst.extraDelayMs) {
      const burstSize = events.filter((other) => Math.abs(other.arrivedAt - event.arrivedAt) <= burstGapMs).length;
      worst = { index, extraDelayMs, burstSize };
    }
  });
  return { live, worst };
}

/** How the connection ended after the terminal event. */
export type CloseVerdict =
  | { readonly kind: 'closed'; readonly afterMs: number }
  | { readonly kind: 'late'; readonly afterMs: number }
  | { readonly kind: 'not-closed'; readonly afterMs: number }
  | { readonly kind: 'no-terminal' };

/**
 * docs/contract.md: the server ends the connection within `limitMs` after the terminal event.
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
