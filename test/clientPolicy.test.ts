import { describe, expect, it } from 'vitest';
import { EventSourceClient, NaiveClient, retryDelay, RobustClient, type AttemptOutcome, type ClientModel } from '../src/engine/clientPolicy.js';
import type { StreamEnd } from '../src/engine/connection.js';
import { BUILTIN_PROFILES } from '../src/options/profiles.js';
import type { SseEvent } from '../src/engine/sseDecoder.js';
import { StreamProgress } from '../src/engine/streamProgress.js';

const contract = BUILTIN_PROFILES.generations.client;
const dropped = (end: StreamEnd = { kind: 'abrupt-close', code: 'UND_ERR_SOCKET' }, newEvents = 0): AttemptOutcome => ({ kind: 'stream', end, sawTerminal: false, newEvents, serverRetryMs: undefined });

/**
 * Feeds one outcome repeatedly until the model stops: the delays it asked for, and its stop.
 * `decide` is pure, so no clock is needed here; that a session sleeps these delays on the
 * injected clock is tested against a real server in streamSession.test.ts.
 */
function schedule(model: ClientModel, outcome: AttemptOutcome, limit = 50) {
  const delays: number[] = [];
  for (let i = 0; i < limit; i++) {
    const decision = model.decide(outcome);
    if (decision.action === 'stop') return { delays, stop: decision };
    delays.push(decision.delayMs);
  }
  return { delays, stop: undefined };
}

describe('robust client (docs/contract.md client policy)', () => {
  it('backs off 2, 4, 8, 16, 32 s and gives up after 5 retries', () => {
    const run = schedule(new RobustClient(contract), dropped());
    expect(run.delays).toEqual([2000, 4000, 8000, 16000, 32000]);
    expect(run.stop).toMatchObject({ action: 'stop', gaveUp: true });
  });

  it('honours a configured retry count and schedule', () => {
    const run = schedule(new RobustClient({ ...contract, maxRetries: 2, retryDelaysSeconds: [0.01, 0.02] }), dropped());
    expect(run.delays).toEqual([10, 20]);
    expect(run.stop).toMatchObject({ action: 'stop', gaveUp: true });
  });

  it('keeps jitter within its bounds', () => {
    expect(retryDelay(1, [2000], 0.2, () => 0)).toBe(1600);
    expect(retryDelay(1, [2000], 0.2, () => 1)).toBe(2400);
    expect(retryDelay(9, [2000, 4000], 0, Math.random)).toBe(4000);
  });

  it.each([400, 401, 403, 404, 422])('never retries after a token %i', (status) => {
    const decision = new RobustClient(contract).decide({ kind: 'token-refused', status, retryAfterSeconds: undefined });
    expect(decision).toMatchObject({ action: 'stop', gaveUp: false });
  });

  it('never retries after a terminal event', () => {
    expect(new RobustClient(contract).decide({ kind: 'stream', end: { kind: 'clean-terminal' }, sawTerminal: true, newEvents: 3, serverRetryMs: undefined }).action).toBe('stop');
  });

  it("takes the server's retry: when it is longer than its own backoff, and its backoff otherwise", () => {
    const model = new RobustClient(contract);
    const withRetry = (serverRetryMs: number): AttemptOutcome => ({ ...dropped(), serverRetryMs } as AttemptOutcome);
    expect(model.decide(withRetry(5000))).toMatchObject({ action: 'retry', retry: 1, delayMs: 5000 });
    expect(model.decide(withRetry(5000))).toMatchObject({ retry: 2, delayMs: 5000 });
    expect(model.decide(withRetry(300))).toMatchObject({ retry: 3, delayMs: 8000 });
  });

  it('waits Retry-After on 429, and 60 s when it is absent', async () => {
    const withHeader = new RobustClient(contract).decide({ kind: 'token-refused', status: 429, retryAfterSeconds: 7 });
    expect(withHeader).toMatchObject({ action: 'retry', delayMs: 7000 });
    const without = new RobustClient(contract).decide({ kind: 'token-refused', status: 429, retryAfterSeconds: undefined });
    expect(without).toMatchObject({ action: 'retry', delayMs: 60_000 });
  });

  it('reconnects with a fresh token and Last-Event-ID, and restarts the count after progress', () => {
    const model = new RobustClient(contract);
    expect(model.decide(dropped())).toMatchObject({ action: 'retry', retry: 1, delayMs: 2000, freshToken: true, resume: true });
    expect(model.decide(dropped())).toMatchObject({ retry: 2, delayMs: 4000 });
    expect(model.decide(dropped(undefined, 5))).toMatchObject({ retry: 1, delayMs: 2000 });
  });

  it('treats silence as a dropped connection and a wrong content type as final', () => {
    expect(new RobustClient(contract).decide(dropped({ kind: 'silence', silentMs: 15000 })).action).toBe('retry');
    expect(new RobustClient(contract).decide(dropped({ kind: 'wrong-content-type', contentType: 'text/html', body: { bytes: 12, binary: false, whole: true } })).action).toBe('stop');
    expect(new RobustClient(contract).silenceMs).toBe(15_000);
  });
});

describe('naive client (the seed frontend)', () => {
  it('reconnects at once, with a new token, whatever happened, until a terminal event', () => {
    const run = schedule(new NaiveClient(), { kind: 'token-refused', status: 400, retryAfterSeconds: undefined }, 20);
    expect(run.stop).toBeUndefined();
    expect(run.delays).toEqual(Array(20).fill(0));
    expect(new NaiveClient().decide({ kind: 'stream', end: { kind: 'clean-terminal' }, sawTerminal: true, newEvents: 1, serverRetryMs: undefined }).action).toBe('stop');
  });
});

describe('EventSource client (WHATWG)', () => {
  it('reconnects to the same URL after 3 s, or after retry:, with no backoff', () => {
    const model = new EventSourceClient();
    expect(model.decide(dropped())).toMatchObject({ action: 'retry', delayMs: 3000, freshToken: false, resume: true });
    expect(model.decide({ ...dropped(), serverRetryMs: 500 } as AttemptOutcome)).toMatchObject({ delayMs: 500 });
    expect(model.decide(dropped())).toMatchObject({ delayMs: 500 });
  });

  it('fails for good on a non-200 status or a wrong content type', () => {
    expect(new EventSourceClient().decide(dropped({ kind: 'http-error', status: 401, bodyExcerpt: '', retryAfterSeconds: undefined })).action).toBe('stop');
    expect(new EventSourceClient().decide(dropped({ kind: 'wrong-content-type', contentType: 'text/plain', body: { bytes: 12, binary: false, whole: true } })).action).toBe('stop');
  });
});

describe('StreamProgress: a stream replayed from its start is no progress', () => {
  const event = (n: number, id?: string): SseEvent => ({ id, event: undefined, data: `{"n":${n}}`, lastEventId: id ?? '', t: n });
  const connection = (progress: StreamProgress, events: SseEvent[]) => {
    progress.connectionStarted();
    events.forEach((item) => progress.event(item));
    return progress.connectionEnded(events.length);
  };

  it('counts a replay from the start as nothing new, and what goes past the longest one as new', () => {
    const progress = new StreamProgress();
    const stream = [1, 2, 3, 4].map((n) => event(n));
    expect(connection(progress, stream)).toBe(4);
    expect(connection(progress, stream)).toBe(0);
    expect(connection(progress, stream.slice(0, 2))).toBe(0);
    expect(connection(progress, [...stream, event(5), event(6)])).toBe(2);
  });

  it('counts a resumed stream (a different start) as new', () => {
    const progress = new StreamProgress();
    expect(connection(progress, [event(1, '1'), event(2, '2')])).toBe(2);
    expect(connection(progress, [event(3, '3')])).toBe(1);
  });
});
