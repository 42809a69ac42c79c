/**
 * Every wait the tool takes on someone else's word (a server's `Retry-After` or `retry:`, a
 * config's retry schedule) goes through `clampDelay`, so no value can make a timer misfire.
 *
 * The range is [0, 1 h]. 0 because `Retry-After: 0` and `retry: 0` are legal ("now"); the bounds
 * on requests and duration keep such a client finite. 1 h because no incident or CI run waits
 * longer than that for one retry (a server asking for more is, in practice, saying "give up"),
 * and because it sits far below Node's timer limit (2^31 - 1 ms, about 24.8 days), past which
 * `setTimeout` fires after 1 ms and turns a back-off into a storm.
 */
export const DELAY_RANGE_MS = { min: 0, max: 3_600_000 } as const;

/** Node's largest timer; anything above fires at once (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay fit for a timer, and how the asked-for value was changed to get it. */
export interface Delay {
  readonly ms: number;
  /** Set when the asked-for delay was out of range or unreadable: what was asked, in its own words. */
  readonly clamped: 'above-max' | 'below-min' | 'not-a-number' | undefined;
  /** The value as given, for messages (`999999999999 s`). */
  readonly given: string;
}

/** Any delay in milliseconds -> one inside `DELAY_RANGE_MS`, saying when it had to clamp. */
export function clampDelay(ms: number, given: string = `${ms} ms`): Delay {
  if (Number.isNaN(ms)) return { ms: DELAY_RANGE_MS.min, clamped: 'not-a-number', given };
  if (ms > DELAY_RANGE_MS.max) return { ms: DELAY_RANGE_MS.max, clamped: 'above-max', given };
  if (ms < DELAY_RANGE_MS.min) return { ms: DELAY_RANGE_MS.min, clamped: 'below-min', given };
  return { ms: Math.round(ms), clamped: undefined, given };
}

/** Seconds (a config value, `Retry-After`'s delta-seconds) -> a clamped delay. */
export function delayFromSeconds(seconds: number): Delay {
  return clampDelay(seconds * 1000, `${seconds} s`);
}

/** "waiting 1 h (asked 999999999999 s, above the 1 h bound)" style note, or '' when nothing was clamped. */
export function describeClamp(delay: Delay): string {
  switch (delay.clamped) {
    case undefined:
      return '';
    case 'above-max':
      return ` (asked ${delay.given}, above sse-doctor's bound of ${DELAY_RANGE_MS.max / 60_000} min)`;
    case 'below-min':
      return ` (asked ${delay.given}, below 0)`;
    case 'not-a-number':
      return ` (asked ${delay.given}, not a number)`;
  }
}

/**
 * `Retry-After` (RFC 9110 §10.2.3) in seconds, as the server said it: delta-seconds or an HTTP
 * date. Anything else (`-5`, `soon`) is unreadable and treated as absent, so the caller's fallback
 * applies rather than "retry now". Not clamped: the wait itself goes through `delayFromSeconds`,
 * which can then say what the server asked for.
 */
export function parseRetryAfterSeconds(value: string | undefined, nowMs: number = Date.now()): number | undefined {
  const text = value?.trim() ?? '';
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text);
  // An HTTP date names a weekday and a month; a bare signed number is not one (Date.parse takes "-5" as a year).
  if (!/[a-z]{3}/i.test(text)) return undefined;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - nowMs) / 1000));
}

/** A timer duration that cannot overflow, for the few waits that do not come from `clampDelay`. */
export function timerMs(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(0, Number.isFinite(ms) ? ms : MAX_TIMER_MS));
}
