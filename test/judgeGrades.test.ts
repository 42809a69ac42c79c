import { describe, expect, it } from 'vitest';
import { judgeCase } from '../src/judge/cases.js';
import { attemptsOf, figuresOf } from '../src/judge/figures.js';
import { judgePolicy } from '../src/judge/policy.js';
import type { JudgedRequest } from '../src/judge/types.js';
import { BUILTIN_PROFILES } from '../src/options/profiles.js';

const policy = judgePolicy(BUILTIN_PROFILES.generations.client, 1);

/** A request as the arena records it: `kind@start-end`, token and Last-Event-ID optional. */
function request(seq: number, kind: JudgedRequest['kind'], t: number, endT: number, extra: Partial<JudgedRequest> = {}): JudgedRequest {
  return { seq, kind, method: kind === 'token' ? 'POST' : 'GET', path: '/', t, endT, status: 200, token: undefined, lastEventId: undefined, answer: 'forwarded', events: 0, lastEventT: undefined, retryAfterMs: undefined, stopSignal: undefined, ...extra };
}

/** A client that reconnects after `waits` (ms), each time with a token request then a stream cut 100 ms later. */
function reconnecting(waits: readonly number[], extra: Partial<JudgedRequest> = {}): JudgedRequest[] {
  const requests = [request(1, 'token', 0, 10), request(2, 'stream', 20, 120, { token: 1 })];
  let end = 120;
  waits.forEach((wait, index) => {
    const start = end + wait;
    requests.push(request(requests.length + 1, 'token', start, start + 10), request(requests.length + 2, 'stream', start + 20, start + 120, { token: index + 2, lastEventId: '2', ...extra }));
    end = start + 120;
  });
  return requests;
}

describe('judge grades', () => {
  it('groups a token request and the stream it opened into one attempt, and measures the wait from the end of the previous one', () => {
    const attempts = attemptsOf(reconnecting([2000, 4000]));
    expect(attempts.map((attempt) => [attempt.first.seq, attempt.stream?.seq, attempt.waitMs])).toEqual([
      [1, 2, 0],
      [3, 4, 2000],
      [5, 6, 4000],
    ]);
  });

  it('passes network-cutoff on 2, 4, 8, 16, 32 s with Last-Event-ID, and fails a wait of 1 s and a reconnect without it', () => {
    const cutoff = judgeCase('network-cutoff');
    expect(cutoff.grade({ requests: reconnecting([2000, 4000, 8000, 16000, 32000]), ended: 'quiet' }, policy).every((check) => check.pass)).toBe(true);
    const early = cutoff.grade({ requests: reconnecting([2000, 1000, 8000, 16000, 32000]), ended: 'quiet' }, policy);
    expect(early.filter((check) => !check.pass).map((check) => [check.name, check.requests])).toEqual([['retry 2 waits 4.00 s', [4, 5]]]);
    const fresh = cutoff.grade({ requests: reconnecting([2000, 4000], { lastEventId: undefined }), ended: 'quiet' }, policy);
    expect(fresh.find((check) => check.name === 'sends Last-Event-ID')?.pass).toBe(false);
  });

  it('counts the worst requests in one second, each request inside a 429 wait once, and the time to give up', () => {
    const storm = Array.from({ length: 40 }, (_, index) => request(index + 1, 'token', index * 20, index * 20 + 5, { status: 429 }));
    const figures = figuresOf(storm, 'request-cap', policy, false);
    expect(figures.worstPerSecond).toBe(40);
    expect(figures.insideRetryAfter).toBe(39);
    expect(figures.gaveUpAfterMs).toBeUndefined();
    expect(figuresOf(reconnecting([2000]), 'quiet', policy, false).gaveUpAfterMs).toBe(2140);
  });

  it('fails immediate-close past the maximum retries, and token-expiry on a reused token', () => {
    const close = judgeCase('immediate-close');
    expect(close.grade({ requests: reconnecting([2000, 4000, 8000, 16000, 32000]), ended: 'quiet' }, policy)[0]?.pass).toBe(true);
    expect(close.grade({ requests: reconnecting([2000, 4000, 8000, 16000, 32000, 32000]), ended: 'quiet' }, policy)[0]?.pass).toBe(false);
    const expiry = judgeCase('token-expiry');
    const reused = [request(1, 'token', 0, 10), request(2, 'stream', 20, 30, { token: 1, status: 401 }), request(3, 'stream', 2030, 2040, { token: 1, status: 401 })];
    expect(expiry.grade({ requests: reused, ended: 'quiet' }, policy)[0]).toMatchObject({ pass: false, requests: [2, 3] });
  });
});

describe('judge report text', () => {
  it('shows control characters from a path or a console line instead of sending them to the terminal', async () => {
    const { terminalSafe } = await import('../src/reporters/terminalText.js');
    expect(terminalSafe('GET /\u001b[2Jx\u009b\tok\n')).toBe('GET /\\x1b[2Jx\\x9b\\x09ok\\x0a');
  });
});
