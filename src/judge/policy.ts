import type { ProfileClient } from '../engine/target.js';

/** The profile's client policy in real milliseconds, scaled by `--time-scale`. */
export interface JudgePolicy {
  readonly delaysMs: readonly number[];
  readonly maxRetries: number;
  /** 0.2 = each delay may vary by ±20%. */
  readonly jitter: number;
  readonly silenceMs: number;
  /** The wait after a 429 without `Retry-After`. */
  readonly rateLimitFallbackMs: number;
  readonly stopStatuses: readonly number[];
  readonly timeScale: number;
}

export function judgePolicy(client: ProfileClient, timeScale: number): JudgePolicy {
  const ms = (seconds: number) => seconds * 1000 * timeScale;
  return Object.freeze({
    delaysMs: Object.freeze(client.retryDelaysSeconds.map(ms)),
    maxRetries: client.maxRetries,
    jitter: client.jitter,
    silenceMs: ms(client.silenceSeconds),
    rateLimitFallbackMs: ms(client.rateLimitFallbackSeconds),
    stopStatuses: Object.freeze([...client.stopStatuses]),
    timeScale,
  });
}

/**
 * How far a measured wait may fall from the expected one. Measured on the server, a wait starts
 * when the response ended and stops when the next request arrived, so it mostly runs longer than
 * the client's own timer (a busy browser fires timers late); on a loaded machine it was seen up to
 * a sixth shorter, so a fifth is forgiven: a client waiting that long is no storm.
 */
export function acceptedRange(expectedMs: number, jitter: number): { readonly minMs: number; readonly maxMs: number } {
  return {
    minMs: Math.max(0, expectedMs * (1 - jitter) - expectedMs * 0.2 - 20),
    maxMs: expectedMs * (1 + jitter) + expectedMs * 0.25 + 1000,
  };
}

/** The longest a well-behaved client stays quiet and still comes back (a case may ask for a longer wait): after it, the client gave up. */
export function quietWindowMs(policy: JudgePolicy, caseWaitMs = 0): number {
  const longest = Math.max(...policy.delaysMs, policy.rateLimitFallbackMs, policy.silenceMs, caseWaitMs);
  return acceptedRange(longest, policy.jitter).maxMs;
}

/** Past this a case ends even if the client is still busy: enough to see every allowed retry. */
export function caseLimitMs(policy: JudgePolicy): number {
  const schedule = policy.delaysMs.reduce((sum, delay) => sum + delay, 0);
  return 2 * (schedule + policy.rateLimitFallbackMs + policy.silenceMs) + quietWindowMs(policy);
}
