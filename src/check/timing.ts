import type { StreamEnd } from '../engine/connection.js';

// Pure functions of recorded arrival times (ms on one clock), so the timing rules are
// unit-tested with synthetic timings and the rules themselves only gather evidence.

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
