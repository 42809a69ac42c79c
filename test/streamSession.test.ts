import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NaiveClient, RobustClient } from '../src/engine/clientPolicy.js';
import { virtualClock } from './helpers/clocks.js';
import { runStreamSession, type SessionOptions } from '../src/engine/streamSession.js';
import { StreamObserver } from '../src/engine/streamObserver.js';
import { BUILTIN_PROFILES } from '../src/options/profiles.js';
import type { Profile } from '../src/engine/target.js';
import { startMisbehavingServer, writeChunks, type MisbehavingServer } from './helpers/misbehaving.js';

const profile: Profile = {
  ...BUILTIN_PROFILES.generic,
  client: { ...BUILTIN_PROFILES.generic.client, retryDelaysSeconds: [0.01, 0.02, 0.04], maxRetries: 3 },
};
const event = (id: number, type = 'content_chunk') => `id: ${id}\nevent: ${type}\ndata: {"index":${id}}\n\n`;

let server: MisbehavingServer;
beforeAll(async () => {
  server = await startMisbehavingServer({
    // Cut after id 3 unless resuming; resumes continue after Last-Event-ID.
    '/cut': (req, res) => {
      const after = Number(req.headers['last-event-id'] ?? 0);
      const ids = [1, 2, 3, 4, 5].filter((id) => id > after);
      if (after === 0) {
        writeChunks(res, ids.slice(0, 3).map((id) => event(id)), 2, false);
        setTimeout(() => res.socket?.destroy(), 40);
      } else {
        writeChunks(res, [...ids.map((id) => event(id)), 'event: complete\ndata: {"reason":"done"}\n\n'], 2);
      }
    },
    '/always-empty': (_req, res) => writeChunks(res, [], 1),
  });
});
afterAll(() => server.close());

function options(path: string, overrides: Partial<SessionOptions> = {}): SessionOptions {
  return {
    source: { kind: 'url', url: server.url(path) },
    model: new RobustClient(profile.client),
    profile,
    streamHeaders: {},
    maxLineBytes: 65_536,
    headersTimeoutMs: 2000,
    ...overrides,
  };
}

describe('runStreamSession', () => {
  it('resumes after a cut with Last-Event-ID and delivers every id exactly once', async () => {
    const observer = new StreamObserver(0);
    const result = await runStreamSession(options('/cut'), { onEvent: (e) => observer.event(e) });
    expect(result.sawTerminal).toBe(true);
    expect(result.lastEnd?.kind).toBe('clean-terminal');
    expect(result.retries).toBe(1);
    expect(result.streams.map((s) => s.end.kind)).toEqual(['abrupt-close', 'clean-terminal']);
    expect(observer.stats).toMatchObject({ events: 6, duplicates: 0, missing: 0 });
    expect(server.requests.filter((r) => r.path === '/cut').map((r) => r.lastEventId)).toEqual([undefined, '3']);
  });

  it('gives up after the configured retries, sleeping the schedule on the injected clock', async () => {
    const clock = virtualClock();
    const result = await runStreamSession(options('/always-empty', { clock }));
    expect(result.stop).toMatchObject({ gaveUp: true });
    expect(result.connections).toBe(4);
    expect(clock.sleeps).toEqual([10, 20, 40]);
  });

  it('bounds a naive client by the request bound', async () => {
    const result = await runStreamSession(options('/always-empty', { model: new NaiveClient(), maxAttempts: 25 }));
    expect(result.connections).toBe(25);
    expect(result.stop.reason).toMatch(/request bound/);
  });

  it('stops at once on an unreachable target, never retrying into the void', async () => {
    const dead = await startMisbehavingServer({});
    const url = dead.url('/x');
    await dead.close();
    const result = await runStreamSession({ ...options('/x'), source: { kind: 'url', url } });
    expect(result.unreachable?.code).toBe('ECONNREFUSED');
    expect(result.connections).toBe(1);
  });
});
