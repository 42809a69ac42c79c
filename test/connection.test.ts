import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import { Client } from 'undici';
import { describeEnd, openStream, type StreamRequest } from '../src/engine/connection.js';
import type { SseEvent } from '../src/engine/sseDecoder.js';
import { createDispatcher } from '../src/engine/http.js';
import { manualClock, type TestClock } from './helpers/clocks.js';
import { sseHeaders, startMisbehavingServer, writeChunks, type MisbehavingServer } from './helpers/misbehaving.js';

const isTerminal = (event: SseEvent) => event.data.includes('"completed"');

let server: MisbehavingServer;
/** The open response of `/held`: a test writes to it when its clock says so. */
let held: ServerResponse | undefined;
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
    '/no-headers': () => undefined,
    '/held': (_req, res) => {
      res.writeHead(200, sseHeaders);
      res.write('data: one\n\n');
      held = res;
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

  it('a TCP reset', async () => {
    expect((await openStream(request('/reset'))).end.kind).toBe('reset');
  });

  it('an abrupt close without a terminal event', async () => {
    const result = await openStream(request('/abrupt'));
    expect(result.end).toMatchObject({ kind: 'abrupt-close', code: 'UND_ERR_SOCKET' });
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

/**
 * A stream on a manual clock: its watchdog fires only when the test moves the clock, so each
 * deadline is checked to the millisecond whatever the machine's load. `seen(n)` waits (in real
 * time) until n events and comments have arrived.
 */
function openOnClock(path: string, extra: Partial<StreamRequest> = {}) {
  const clock = manualClock();
  let received = 0;
  let wake: (() => void) | undefined;
  const onArrival = () => {
    received++;
    wake?.();
  };
  let ended = false;
  const result = openStream(request(path, { clock, ...extra }), { onEvent: onArrival, onNotice: onArrival }).then((result) => {
    ended = true;
    return result;
  });
  const seen = async (count: number) => {
    while (received < count) await new Promise<void>((resolve) => (wake = resolve));
  };
  /** Moves the clock, then lets what it set off run: true when the stream has ended by then. */
  const advance = async (clock: TestClock, ms: number) => {
    clock.advance(ms);
    await new Promise((resolve) => setImmediate(resolve));
    return ended;
  };
  return { clock, result, seen, advance: (ms: number) => advance(clock, ms) };
}

describe('the watchdog runs on the injected clock', () => {
  it('silence: cut exactly when the clock has gone silenceTimeoutMs without a byte', async () => {
    const stream = openOnClock('/stalled', { silenceTimeoutMs: 150 });
    await stream.seen(1);
    expect(await stream.advance(149)).toBe(false);
    expect(await stream.advance(1)).toBe(true);
    expect((await stream.result).end).toEqual({ kind: 'silence', silentMs: 150 });
  });

  it('a byte before the deadline holds it off: the watchdog looks again and cuts 150 ms after that byte', async () => {
    const stream = openOnClock('/held', { silenceTimeoutMs: 150 });
    await stream.seen(1);
    expect(await stream.advance(100)).toBe(false);
    held?.write(': heartbeat\n\n');
    await stream.seen(2);
    expect(await stream.advance(100)).toBe(false);
    expect(await stream.advance(49)).toBe(false);
    expect(await stream.advance(1)).toBe(true);
    const result = await stream.result;
    expect(result.end).toEqual({ kind: 'silence', silentMs: 150 });
    expect(result.endedAt - result.startedAt).toBe(250);
  });

  it('the duration bound cuts a stream that bytes keep alive', async () => {
    const stream = openOnClock('/held', { silenceTimeoutMs: 150, maxDurationMs: 200 });
    await stream.seen(1);
    expect(await stream.advance(90)).toBe(false);
    held?.write(': heartbeat\n\n');
    await stream.seen(2);
    expect(await stream.advance(109)).toBe(false);
    expect(await stream.advance(1)).toBe(true);
    expect((await stream.result).end).toEqual({ kind: 'max-duration', durationMs: 200 });
  });

  it('lingering: still open closeAfterTerminalMs after the terminal event', async () => {
    const stream = openOnClock('/linger', { closeAfterTerminalMs: 100 });
    await stream.seen(1);
    expect(await stream.advance(99)).toBe(false);
    expect(await stream.advance(1)).toBe(true);
    expect((await stream.result).end).toEqual({ kind: 'lingered', afterTerminalMs: 100 });
  });

  it('no response headers within headersTimeoutMs is a headers timeout', async () => {
    const stream = openOnClock('/no-headers', { headersTimeoutMs: 2000 });
    expect(await stream.advance(1999)).toBe(false);
    expect(await stream.advance(1)).toBe(true);
    expect((await stream.result).end).toEqual({ kind: 'timeout', phase: 'headers', code: 'UND_ERR_HEADERS_TIMEOUT' });
  });
});
