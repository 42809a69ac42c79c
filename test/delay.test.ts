import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RobustClient, EventSourceClient } from '../src/engine/clientPolicy.js';
import { DELAY_RANGE_MS, MAX_TIMER_MS, clampDelay, delayFromSeconds, parseRetryAfterSeconds } from '../src/engine/delay.js';
import { BUILTIN_PROFILES } from '../src/options/profiles.js';

describe('clampDelay', () => {
  it('always gives a timer-safe delay inside the documented range, and says when it clamped', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer(), fc.constantFrom(Infinity, -Infinity, NaN, 1e308, -5, 2 ** 31)), (ms) => {
        const delay = clampDelay(ms);
        expect(delay.ms).toBeGreaterThanOrEqual(DELAY_RANGE_MS.min);
        expect(delay.ms).toBeLessThanOrEqual(DELAY_RANGE_MS.max);
        expect(delay.ms).toBeLessThanOrEqual(MAX_TIMER_MS);
        expect(Number.isInteger(delay.ms)).toBe(true);
        const inRange = ms >= DELAY_RANGE_MS.min && ms <= DELAY_RANGE_MS.max;
        expect(delay.clamped === undefined).toBe(inRange);
        if (inRange) expect(Math.abs(delay.ms - ms)).toBeLessThanOrEqual(0.5);
      }),
    );
  });

  it('keeps in-range seconds as they are', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3600 }), (seconds) => {
        expect(delayFromSeconds(seconds)).toEqual({ ms: seconds * 1000, clamped: undefined, given: `${seconds} s` });
      }),
    );
  });
});

describe('parseRetryAfterSeconds', () => {
  it.each<[string, number | undefined]>([
    ['7', 7],
    ['999999999999', 999999999999],
    ['-5', undefined],
    ['soon', undefined],
    ['', undefined],
    ['Wed, 21 Oct 2015 07:28:10 GMT', 0],
  ])('%j -> %j', (value, seconds) => expect(parseRetryAfterSeconds(value, Date.parse('2015-10-21T07:28:00Z') + 60_000)).toBe(seconds));

  it('reads an HTTP date in the future as the seconds until it', () => {
    expect(parseRetryAfterSeconds('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('2015-10-21T07:28:00Z'))).toBe(10);
  });
});

describe('client models never wait outside the range (issue 11: a 429 with Retry-After 999999999999 stormed the server)', () => {
  it('robust: a giant Retry-After waits the bound and says it clamped', () => {
    const decision = new RobustClient(BUILTIN_PROFILES.generations.client).decide({ kind: 'token-refused', status: 429, retryAfterSeconds: 999_999_999_999 });
    expect(decision).toMatchObject({ action: 'retry', delayMs: DELAY_RANGE_MS.max });
    expect(decision.reason).toContain('asked 999999999999 s, above');
  });

  it('robust: an unreadable Retry-After (-5) waits the fallback, never 0', () => {
    const decision = new RobustClient(BUILTIN_PROFILES.generations.client).decide({ kind: 'token-refused', status: 429, retryAfterSeconds: parseRetryAfterSeconds('-5') });
    expect(decision).toMatchObject({ action: 'retry', delayMs: 60_000 });
  });

  it('eventsource: a giant retry: is clamped', () => {
    const decision = new EventSourceClient().decide({ kind: 'stream', end: { kind: 'clean-no-terminal' }, sawTerminal: false, newEvents: 1, serverRetryMs: 99_999_999_999_999 });
    expect(decision).toMatchObject({ action: 'retry', delayMs: DELAY_RANGE_MS.max });
    expect(decision.reason).toContain('above');
  });
});
