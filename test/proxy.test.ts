import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStream, type StreamRequest } from '../src/engine/connection.js';
import { EventBoundaries } from '../src/proxy/eventBoundaries.js';
import { startFaultProxy, type FaultProxyCallbacks, type FaultRules, type ProxyConnection, type ProxyConnectionEnd } from '../src/proxy/faultProxy.js';
import { startMisbehavingServer, writeChunks, type MisbehavingServer } from './helpers/misbehaving.js';

const event = (id: number) => `id: ${id}\nevent: content_chunk\ndata: {"index":${id}}\n\n`;
const SPACING_MS = 40;
const stream = [event(1), ': heartbeat\n\n', event(2), event(3), event(4), event(5), 'event: complete\ndata: {"status":"completed"}\n\n'];
const noFaults: FaultRules = { reset: false, latencyMs: 0, bufferMs: 0 };

let upstream: MisbehavingServer;
beforeAll(async () => {
  upstream = await startMisbehavingServer({
    '/api/events': (_req, res) => writeChunks(res, stream, SPACING_MS),
    '/api/echo': (req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ body, lastEventId: req.headers['last-event-id'] ?? null })));
    },
  });
});
afterAll(() => upstream.close());

async function withProxy<T>(rules: FaultRules, use: (url: string, log: { connections: ProxyConnection[]; ends: ProxyConnectionEnd[] }) => Promise<T>): Promise<T> {
  const log = { connections: [] as ProxyConnection[], ends: [] as ProxyConnectionEnd[] };
  const callbacks: FaultProxyCallbacks = { onConnection: (c) => log.connections.push(c), onConnectionEnd: (e) => log.ends.push(e) };
  const proxy = await startFaultProxy({ target: upstream.url('/api'), rules }, callbacks);
  try {
    return await use(proxy.url, log);
  } finally {
    await proxy.close();
  }
}

const request = (url: string, extra: Partial<StreamRequest> = {}): StreamRequest => ({
  url,
  silenceTimeoutMs: 0,
  maxDurationMs: 5000,
  maxLineBytes: 65_536,
  headersTimeoutMs: 2000,
  isTerminal: (e) => e.event === 'complete',
  ...extra,
});
const until = async (check: () => boolean) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe('fault proxy', () => {
  it('passes a stream through untouched, counting its events', async () => {
    await withProxy(noFaults, async (url, log) => {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api$/);
      const result = await openStream(request(`${url}/events`));
      expect(result.end.kind).toBe('clean-terminal');
      expect(result.events).toBe(6);
      expect(result.comments).toBe(1);
      await until(() => log.ends.length > 0);
      expect(log.ends[0]).toMatchObject({ action: 'passed', stream: true, events: 6, status: 200 });
    });
  });

  it('cuts after N events with a FIN: the client gets exactly N events and an abrupt close', async () => {
    await withProxy({ ...noFaults, cutAfterEvents: 3 }, async (url, log) => {
      const result = await openStream(request(`${url}/events`));
      expect(result.end.kind).toBe('abrupt-close');
      expect(result.events).toBe(3);
      expect(result.lastEventId).toBe('3');
      await until(() => log.ends.length > 0);
      expect(log.ends[0]).toMatchObject({ action: 'cut-fin', events: 3 });
    });
  });

  it('cuts after N events with a reset (RST)', async () => {
    await withProxy({ ...noFaults, cutAfterEvents: 2, reset: true }, async (url, log) => {
      const result = await openStream(request(`${url}/events`));
      expect(result.end).toMatchObject({ kind: 'reset' });
      expect(result.events).toBe(2);
      await until(() => log.ends.length > 0);
      expect(log.ends[0]).toMatchObject({ action: 'cut-rst', events: 2 });
    });
  });

  it('cuts after T ms, only the first stream when cutLimit is 1, and reports reconnect intervals', async () => {
    await withProxy({ ...noFaults, cutAfterMs: 60, cutLimit: 1 }, async (url, log) => {
      const first = await openStream(request(`${url}/events`));
      expect(first.end.kind).toBe('abrupt-close');
      expect(first.events).toBeGreaterThanOrEqual(1);
      expect(first.events).toBeLessThan(4);
      const second = await openStream(request(`${url}/events`, { lastEventId: first.lastEventId }));
      expect(second.end.kind).toBe('clean-terminal');
      await until(() => log.ends.length > 1);
      expect(log.ends.map((end) => end.action)).toEqual(['cut-fin', 'passed']);
      expect(log.connections[0]).toMatchObject({ reconnectDelayMs: undefined, lastEventId: undefined });
      // From the end of the cut stream to the next request, not from one request's start to the next.
      expect(log.connections[1]?.reconnectDelayMs).toBeLessThan(log.ends[0]!.durationMs);
      expect(log.connections[1]?.lastEventId).toBe(first.lastEventId);
    });
  });

  it('adds latency to the headers', async () => {
    await withProxy({ ...noFaults, latencyMs: 150 }, async (url) => {
      const result = await openStream(request(`${url}/events`));
      expect(result.open?.headersMs).toBeGreaterThanOrEqual(140);
      expect(result.end.kind).toBe('clean-terminal');
      expect(result.events).toBe(6);
    });
  });

  it('buffers: events produced over ~280 ms arrive in bursts', async () => {
    await withProxy({ ...noFaults, bufferMs: 400 }, async (url) => {
      const times: number[] = [];
      const result = await openStream(request(`${url}/events`), { onEvent: (e) => times.push(e.t) });
      expect(result.events).toBe(6);
      // Upstream spaces them 40 ms apart; through the buffer they land together.
      expect(times.at(-1)! - times[0]!).toBeLessThan(SPACING_MS);
    });
  });

  it('forwards other requests with their body and Last-Event-ID, rewriting nothing', async () => {
    await withProxy(noFaults, async (url) => {
      const response = await fetch(`${url}/echo?token=abcdefghijklmnop`, { method: 'POST', body: '{"prompt":"x"}', headers: { 'last-event-id': '42' } });
      expect(response.status).toBe(201);
      expect(await response.json()).toEqual({ body: '{"prompt":"x"}', lastEventId: '42' });
    });
  });

  it('logs paths with tokens shortened', async () => {
    await withProxy(noFaults, async (url, log) => {
      await (await fetch(`${url}/echo?token=abcdefghijklmnop`, { method: 'POST' })).text();
      expect(log.connections[0]?.path).toBe('/api/echo?token=abcd…nop');
    });
  });

  it('answers 502 when the target is unreachable', async () => {
    const ends: ProxyConnectionEnd[] = [];
    const proxy = await startFaultProxy({ target: 'http://127.0.0.1:9/api', rules: noFaults }, { onConnectionEnd: (e) => ends.push(e) });
    try {
      const response = await fetch(`${proxy.url}/events`);
      expect(response.status).toBe(502);
      expect(ends[0]?.action).toBe('target-unreachable');
    } finally {
      await proxy.close();
    }
  });
});

describe('EventBoundaries', () => {
  it('counts dispatched events only, across CRLF and awkward chunk splits', () => {
    const text = 'data: a\r\n\r\n: heartbeat\n\nid: 2\ndata\n\nevent: x\rdata: b\r\r';
    for (const size of [1, 3, text.length]) {
      const boundaries = new EventBoundaries();
      let count = 0;
      for (let offset = 0; offset < text.length; offset += size) count += boundaries.scan(Buffer.from(text.slice(offset, offset + size))).length;
      expect(count).toBe(3);
    }
  });

  it('reports the offset just past the blank line', () => {
    expect(new EventBoundaries().scan(Buffer.from('data: a\n\ndata: b\n\n'))).toEqual([9, 18]);
  });
});
