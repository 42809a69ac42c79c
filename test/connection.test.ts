import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { describeEnd, openStream, type StreamRequest } from '../src/engine/connection.js';
import type { SseEvent } from '../src/engine/sseDecoder.js';
import { createDispatcher } from '../src/engine/http.js';
import { sseHeaders, startMisbehavingServer, writeChunks, type MisbehavingServer } from './helpers/misbehaving.js';

const isTerminal = (event: SseEvent) => event.data.includes('"completed"');

let server: MisbehavingServer;
beforeAll(async () => {
  server = await startMisbehavingServer({
    '/ok': (_req, res) => writeChunks(res, ['data: {"status":"processing"}\n\n', ': heartbeat\n\n', 'id: 2\ndata: {"status":"completed"}\n\n'], 5),
    '/no-terminal': (_req, res) => writeChunks(res, ['data: one\n\n'], 5),
    '/linger': (_req, res) => writeChunks(res, ['data: {"status":"completed"}\n\n'], 5, false),
    '/reset': (_req, res) => {
      writeChunks(res, ['data: one\n\n'], 5, false);
      setTimeout(() => res.socket?.resetAndDestroy(), 30);
    },
    '/abrupt': (_req, res) => {
      writeChunks(res, ['data: one\n\n'], 5, false);
      setTimeout(() => res.socket?.destroy(), 30);
    },
    '/stalled': (_req, res) => writeChunks(res, ['data: one\n\n'], 5, false),
    '/endless-line': (_req, res) => {
      res.writeHead(200, sseHeaders);
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write('x'.repeat(4096))), 1);
    },
    '/garbage': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>oops</html>'),
    '/500': (_req, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"detail":"boom"}'),
    '/429': (_req, res) => res.writeHead(429, { 'retry-after': '7' }).end('{"detail":"slow down"}'),
    '/trickle': (_req, res) => writeChunks(res, [...'data: {"status":"completed"}\n\n'], 2),
    '/heartbeats': (_req, res) => writeChunks(res, [...Array<string>(10).fill(': heartbeat\n\n'), 'data: {"status":"completed"}\n\n'], 40),
    '/heartbeats-then-stall': (_req, res) => writeChunks(res, Array<string>(8).fill(': heartbeat\n\n'), 40, false),
    '/binary-sse': (_req, res) => {
      res.writeHead(200, sseHeaders);
      const block = Buffer.from(Array.from({ length: 1024 }, (_, index) => (index * 197 + 3) % 256));
      for (let sent = 0; sent < 300; sent++) res.write(block);
      res.end();
    },
    // A two-byte character cut between the first two chunks: text, however it is split.
    '/split-utf8': (_req, res) => {
      res.writeHead(200, sseHeaders);
      res.write(Buffer.from([...Buffer.from('data: caf'), 0xc3]));
      setTimeout(() => res.end(Buffer.from([0xa9, ...Buffer.from('\n\n')])), 20);
    },
    '/octet-forever': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(Buffer.alloc(1024))), 20);
    },
    '/heartbeats-forever': (_req, res) => {
      res.writeHead(200, sseHeaders);
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(': heartbeat\n\n')), 30);
    },
  });
});
afterAll(() => server.close());

function request(path: string, extra: Partial<StreamRequest> = {}): StreamRequest {
  return { url: server.url(path), silenceTimeoutMs: 0, maxLineBytes: 16_384, headersTimeoutMs: 2000, isTerminal, ...extra };
}

describe('openStream classifies how a stream ended', () => {
  it('clean end after a terminal event, with events, comments and the last event id', async () => {
    const result = await openStream(request('/ok'));
    expect(result.end).toEqual({ kind: 'clean-terminal' });
    expect(result.events).toBe(2);
    expect(result.comments).toBe(1);
    expect(result.lastEventId).toBe('2');
    expect(result.open?.status).toBe(200);
  });

  it('a terminal event delivered one byte at a time', async () => {
    expect((await openStream(request('/trickle'))).end.kind).toBe('clean-terminal');
  });

  it('clean end without a terminal event', async () => {
    expect((await openStream(request('/no-terminal'))).end.kind).toBe('clean-no-terminal');
  });

  it('lingering after the terminal event', async () => {
    const result = await openStream(request('/linger', { closeAfterTerminalMs: 100 }));
    expect(result.end.kind).toBe('lingered');
  });

  it('a TCP reset', async () => {
    expect((await openStream(request('/reset'))).end.kind).toBe('reset');
  });

  it('an abrupt close without a terminal event', async () => {
    const result = await openStream(request('/abrupt'));
    expect(result.end).toMatchObject({ kind: 'abrupt-close', code: 'UND_ERR_SOCKET' });
  });

  it('silence past the watchdog', async () => {
    const result = await openStream(request('/stalled', { silenceTimeoutMs: 150 }));
    expect(result.end.kind).toBe('silence');
    expect(result.endedAt - result.startedAt).toBeLessThan(2000);
  });

  it('bytes that keep coming hold the silence watchdog off, past its first deadline', async () => {
    const result = await openStream(request('/heartbeats', { silenceTimeoutMs: 150 }));
    expect(result.end.kind).toBe('clean-terminal');
    expect(result.comments).toBe(10);
    expect(result.endedAt - result.startedAt).toBeGreaterThan(300);
  });

  it('silence after a run of heartbeats: the watchdog looks again after each deadline', async () => {
    const result = await openStream(request('/heartbeats-then-stall', { silenceTimeoutMs: 150 }));
    expect(result.end.kind).toBe('silence');
    expect(result.comments).toBe(8);
    expect(result.endedAt - result.startedAt).toBeGreaterThan(280);
  });

  it('a stream kept alive by heartbeats is still cut at the duration bound', async () => {
    const result = await openStream(request('/heartbeats-forever', { silenceTimeoutMs: 100, maxDurationMs: 400 }));
    expect(result.end).toMatchObject({ kind: 'max-duration' });
    expect(result.comments).toBeGreaterThan(5);
  });

  it('a stream that never ends is cut at the duration bound', async () => {
    const result = await openStream(request('/stalled', { maxDurationMs: 200 }));
    expect(result.end.kind).toBe('max-duration');
  });

  it('a line that never ends', async () => {
    const result = await openStream(request('/endless-line'));
    expect(result.end).toEqual({ kind: 'line-too-long', bytes: 16_384 });
  });

  it('a wrong content type', async () => {
    const { end } = await openStream(request('/garbage'));
    expect(end).toEqual({ kind: 'wrong-content-type', contentType: 'text/html', body: { bytes: 17, binary: false, whole: true } });
    expect(describeEnd(end)).toBe('wrong content type "text/html": the body is not text/event-stream: 17 bytes of text');
  });

  it('a binary body sent as text/event-stream: summed up, never decoded', async () => {
    const events: SseEvent[] = [];
    const result = await openStream(request('/binary-sse'), { onEvent: (event) => events.push(event), onNotice: () => events.push({} as SseEvent) });
    expect(result.end).toEqual({ kind: 'binary-body', body: { bytes: 300 * 1024, binary: true, whole: true } });
    expect(describeEnd(result.end)).toBe('the body is not text/event-stream: 300.0 KiB of binary (sent as text/event-stream)');
    expect(events).toEqual([]);
  });

  it('a character split across chunks is text, not binary', async () => {
    const events: SseEvent[] = [];
    const result = await openStream(request('/split-utf8'), { onEvent: (event) => events.push(event) });
    expect(result.end.kind).toBe('clean-no-terminal');
    expect(events.map((event) => event.data)).toEqual(['café']);
  });

  it('a body that is not an event stream and never ends is measured up to a bound, then let go', async () => {
    const { end } = await openStream(request('/octet-forever'));
    expect(end).toMatchObject({ kind: 'wrong-content-type', body: { binary: true, whole: false } });
    expect(describeEnd(end)).toMatch(/^wrong content type "application\/octet-stream": the body is not text\/event-stream: at least [\d.]+ KiB of binary$/);
  });

  it('an HTTP error with a body excerpt and Retry-After', async () => {
    expect((await openStream(request('/500'))).end).toEqual({ kind: 'http-error', status: 500, bodyExcerpt: '{"detail":"boom"}', retryAfterSeconds: undefined });
    expect((await openStream(request('/429'))).end).toMatchObject({ kind: 'http-error', status: 429, retryAfterSeconds: 7 });
  });

  it('an unreachable port', async () => {
    const dead = await startMisbehavingServer({});
    const url = dead.url('/x');
    await dead.close();
    const result = await openStream({ ...request('/x'), url, dispatcher: createDispatcher({ connectTimeoutMs: 1000, insecure: false }) });
    expect(result.end).toMatchObject({ kind: 'unreachable', code: 'ECONNREFUSED' });
  });

  it('a connection this process has no file descriptor for: the tool\'s limit, not the target\'s', async () => {
    // The connect fails as the OS fails it when the process is out of descriptors.
    const outOfFiles = new Client(new URL(server.url('/')).origin, {
      connect: (_options, callback) => callback(Object.assign(new Error('socket: too many open files'), { code: 'EMFILE' }), null),
    });
    try {
      const result = await openStream({ ...request('/ok'), dispatcher: outOfFiles });
      expect(result.end).toEqual({ kind: 'local-limit', code: 'EMFILE' });
      expect(describeEnd(result.end)).toMatch(/out of file descriptors \(EMFILE\): the tool's limit, not the target's/);
    } finally {
      await outOfFiles.destroy();
    }
  });

  it('sends Last-Event-ID when resuming', async () => {
    await openStream(request('/ok', { lastEventId: '41' }));
    expect(server.requests.at(-1)).toEqual({ path: '/ok', lastEventId: '41' });
  });

  it('stops at once when the caller aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect((await openStream(request('/stalled', { signal: controller.signal }))).end.kind).toBe('aborted');
  });
});
