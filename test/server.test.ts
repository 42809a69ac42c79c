import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../src/commands/serve.js';
import { DEFAULT_TIMINGS, startReferenceServer, type FaultName, type ReferenceServer, type ServerTimings } from '../src/server/referenceServer.js';
import { call, captureStream, type StreamCapture } from './helpers/referenceClient.js';

const FAST: Partial<ServerTimings> = { generationMs: 600, heartbeatMs: 100, tokenTtlMs: 500, rateWindowMs: 1000, streamMaxMs: 3000 };
/** Fault servers keep tokens longer, so a test can reconnect after a generation ends. */
const FAULT_TIMINGS: Partial<ServerTimings> = { ...FAST, tokenTtlMs: 5000 };
const PROMPT = 'Write a haiku about event streams';
const FAILING_PROMPT = 'Please fail this generation on purpose';
const SIMULATED_ERROR = 'Model returned malformed output (simulated failure)';

let server: ReferenceServer;
beforeAll(async () => {
  server = await startReferenceServer({ timings: FAST });
});
afterAll(() => server.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `null` sends no Authorization header. */
async function create(target: ReferenceServer, prompt = PROMPT, user: string | null = 'alice'): Promise<string> {
  const reply = await call(target.baseUrl, 'POST', '/generations/generate', { user: user ?? undefined, body: { prompt } });
  expect(reply.status).toBe(201);
  return reply.body.id as string;
}

function requestToken(target: ReferenceServer, id: string, user: string | null = 'alice') {
  return call(target.baseUrl, 'POST', `/generations/generate/${id}/stream-token`, { user: user ?? undefined });
}

async function streamUrl(target: ReferenceServer, id: string, user = 'alice'): Promise<string> {
  const reply = await requestToken(target, id, user);
  expect(reply.status).toBe(200);
  // As seed 002's frontend does: the API root, stream_url, then ?token=.
  return `${target.baseUrl}${reply.body.stream_url as string}?token=${reply.body.sse_token as string}`;
}

async function waitForStatus(target: ReferenceServer, id: string, status: string, user = 'alice'): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const reply = await call(target.baseUrl, 'GET', `/generations/${id}`, { user });
    if (reply.body.status === status) return;
    await sleep(25);
  }
  throw new Error(`generation ${id} never reached ${status}`);
}

async function withServer(faults: FaultName[], test: (target: ReferenceServer) => Promise<void>, timings = FAULT_TIMINGS): Promise<void> {
  const target = await startReferenceServer({ faults, timings });
  try {
    await test(target);
  } finally {
    await target.close();
  }
}

const ids = (capture: StreamCapture) => capture.events.filter((event) => event.id !== undefined).map((event) => Number(event.id));
const types = (capture: StreamCapture) => capture.events.map((event) => event.type ?? 'message');
const heartbeats = (capture: StreamCapture) => capture.items.filter((item) => item.kind === 'comment' && item.text === 'heartbeat');

describe.concurrent('create and status', () => {
  it('creates a pending generation and reports it to its owner only', async () => {
    const reply = await call(server.baseUrl, 'POST', '/generations/generate', { user: 'alice', body: { prompt: PROMPT, project_id: 'p1' } });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ status: 'pending', prompt: PROMPT });
    expect(reply.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof reply.body.created_at).toBe('string');

    const status = await call(server.baseUrl, 'GET', `/generations/${reply.body.id}`, { user: 'alice' });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ id: reply.body.id, error_message: null });
    // The timeline starts at creation: at 5% of a 600 ms generation it is already processing.
    expect(['pending', 'processing']).toContain(status.body.status);
    expect((await call(server.baseUrl, 'GET', `/generations/${reply.body.id}`, { user: 'bob' })).status).toBe(404);
    expect((await call(server.baseUrl, 'GET', `/generations/${reply.body.id}`)).status).toBe(401);
    expect((await call(server.baseUrl, 'GET', '/generations/00000000-0000-0000-0000-000000000000', { user: 'alice' })).status).toBe(404);
  });

  it('answers 401 without a bearer and 422 FastAPI-style for a bad body', async () => {
    const anonymous = await call(server.baseUrl, 'POST', '/generations/generate', { body: { prompt: PROMPT } });
    expect(anonymous).toMatchObject({ status: 401, body: { detail: 'Not authenticated' } });

    const short = await call(server.baseUrl, 'POST', '/generations/generate', { user: 'alice', body: { prompt: 'short' } });
    expect(short.status).toBe(422);
    expect(short.body.detail[0]).toMatchObject({ loc: ['body', 'prompt'], type: 'string_too_short' });

    const missing = await call(server.baseUrl, 'POST', '/generations/generate', { user: 'alice', body: {} });
    expect(missing.body.detail[0]).toMatchObject({ loc: ['body', 'prompt'], type: 'missing' });

    const broken = await call(server.baseUrl, 'POST', '/generations/generate', { user: 'alice', rawBody: '{"prompt": ' });
    expect(broken.status).toBe(422);
    expect(broken.body.detail[0].type).toBe('json_invalid');
  });

  it('answers 404 JSON for unknown paths and 405 for a wrong method', async () => {
    expect(await call(server.baseUrl, 'GET', '/nowhere')).toMatchObject({ status: 404, body: { detail: 'Not Found' } });
    expect((await call(server.baseUrl, 'GET', '/generations/generate/x/stream-token')).status).toBe(405);
  });

  it('moves a generation through processing to completed', async () => {
    const id = await create(server);
    await waitForStatus(server, id, 'processing');
    await waitForStatus(server, id, 'completed');
    const status = await call(server.baseUrl, 'GET', `/generations/${id}`, { user: 'alice' });
    expect(status.body).toMatchObject({ status: 'completed', progress: 1, error_message: null });
  });
});

describe.concurrent('token endpoint', () => {
  it('issues a URL-safe token for the owner of a running generation', async () => {
    const id = await create(server);
    const reply = await requestToken(server, id);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ expires_in: 0.5, generation_id: id });
    expect(reply.body.sse_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(reply.body.stream_url).toBe(`/generations/generate/${id}/stream`);
  });

  it('refuses no auth (401), an unknown id (404) and another user (404)', async () => {
    const id = await create(server);
    expect(await requestToken(server, id, null)).toMatchObject({ status: 401, body: { detail: 'Not authenticated' } });
    expect((await requestToken(server, '7d0c1a9e-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await requestToken(server, id, 'bob')).status).toBe(404);
  });

  it('answers 400 naming the error for a failed generation and 400 for a completed one', async () => {
    const failing = await create(server, FAILING_PROMPT);
    const completing = await create(server);
    await waitForStatus(server, failing, 'failed');
    const failed = await requestToken(server, failing);
    expect(failed.status).toBe(400);
    expect(failed.body.detail).toBe(`Generation has failed. Error: ${SIMULATED_ERROR}. Cannot stream.`);
    await waitForStatus(server, completing, 'completed');
    expect(await requestToken(server, completing)).toMatchObject({
      status: 400,
      body: { detail: 'Generation already completed. Streaming not available.' },
    });
  });

  it('limits a (user, generation) to 10 requests per window with Retry-After', async () => {
    const id = await create(server);
    for (let attempt = 0; attempt < 10; attempt++) expect((await requestToken(server, id)).status).toBe(200);
    const limited = await requestToken(server, id);
    expect(limited.status).toBe(429);
    expect(limited.body.detail).toMatch(/^Too many token requests\. Maximum 10 requests per 1 seconds/);
    expect(limited.headers['retry-after']).toBe('1');
  });

  it('counts requests answered 400, and lets requests through once the window has passed', async () => {
    const id = await create(server, FAILING_PROMPT);
    await waitForStatus(server, id, 'failed');
    for (let attempt = 0; attempt < 10; attempt++) expect((await requestToken(server, id)).status).toBe(400);
    expect((await requestToken(server, id)).status).toBe(429);
    await sleep(1050);
    expect((await requestToken(server, id)).status).toBe(400);
  });
});

describe.concurrent('stream endpoint', () => {
  it('answers 422 without a token and 401 for a bad, foreign, used or expired one', async () => {
    const id = await create(server);
    const base = `${server.baseUrl}/generations/generate/${id}/stream`;
    const missing = await captureStream(base);
    expect(missing.status).toBe(422);
    expect(JSON.parse(missing.raw).detail[0].loc).toEqual(['query', 'token']);
    const garbage = await captureStream(`${base}?token=nope`);
    expect(garbage.status).toBe(401);
    expect(JSON.parse(garbage.raw)).toEqual({ detail: 'Invalid or expired stream token' });

    const other = await create(server);
    const foreign = (await requestToken(server, other)).body.sse_token as string;
    expect((await captureStream(`${base}?token=${foreign}`)).status).toBe(401);

    const url = await streamUrl(server, id);
    const first = captureStream(url);
    await sleep(50);
    expect((await captureStream(url)).status).toBe(401);
    expect((await first).status).toBe(200);

    const expiring = await streamUrl(server, await create(server));
    await sleep(600);
    expect((await captureStream(expiring)).status).toBe(401);
  });

  it('streams connected, the timeline with sequential ids and heartbeats, then ends cleanly', async () => {
    const id = await create(server);
    const capture = await captureStream(await streamUrl(server, id));
    expect(capture.status).toBe(200);
    expect(capture.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(capture.headers['cache-control']).toBe('no-cache');
    expect(capture.headers['x-accel-buffering']).toBe('no');
    expect(capture.headers['x-trace-id']).toMatch(/^[0-9a-f]{16}$/);
    expect(capture.headers['x-stream-max-seconds']).toBe('3');
    expect(capture.headers['x-heartbeat-interval']).toBe('0.1');
    expect(capture.headers['content-length']).toBeUndefined();
    expect(capture.headers['content-encoding']).toBeUndefined();

    const [connected] = capture.events;
    expect(connected).toMatchObject({ id: undefined, type: undefined });
    expect(connected?.data).toMatchObject({ generation_id: id, stage: 'connected', message: 'Stream connected' });
    expect(connected?.at).toBeLessThan(100);

    expect(ids(capture)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(types(capture)).toEqual(['message', 'progress', ...Array(6).fill('content_chunk'), 'complete']);
    const progress = capture.events.map((event) => event.data.progress as number);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(capture.events.at(-1)?.data).toMatchObject({ status: 'completed', stage: 'complete', progress: 1 });
    expect(capture.events[1]?.data.timestamp).toBeGreaterThan(1.7e9);
    expect(capture.ending).toBe('eof');

    const started = capture.events[1]?.at ?? 0;
    const firstChunk = capture.events[2]?.at ?? 0;
    const thinking = heartbeats(capture).filter((item) => item.at > started && item.at < firstChunk);
    expect(thinking.length).toBeGreaterThanOrEqual(2);
  });

  it('ends a failing generation with a failed error event carrying the message', async () => {
    const id = await create(server, FAILING_PROMPT);
    const capture = await captureStream(await streamUrl(server, id));
    expect(types(capture)).toEqual(['message', 'progress', 'error']);
    expect(capture.events.at(-1)).toMatchObject({ id: '2', data: { status: 'failed', stage: 'error', message: SIMULATED_ERROR, progress: 0.05 } });
    expect(capture.ending).toBe('eof');
  });

  it('resumes after Last-Event-ID (header or lastEventId query) without duplicates', async () => {
    const id = await create(server);
    const [header, query] = await Promise.all([
      streamUrl(server, id).then((url) => captureStream(url, { headers: { 'last-event-id': '3' } })),
      streamUrl(server, id).then((url) => captureStream(`${url}&lastEventId=5`)),
    ]);
    expect(ids(header)).toEqual([4, 5, 6, 7, 8]);
    expect(ids(query)).toEqual([6, 7, 8]);
    expect(header.events[0]?.data.stage).toBe('connected');
  });

  it('sends a stream of an already terminal generation its history, then ends', async () => {
    await withServer([], async (target) => {
      const id = await create(target);
      const url = await streamUrl(target, id);
      await waitForStatus(target, id, 'completed');
      const capture = await captureStream(url);
      expect(capture.events[0]?.data).toMatchObject({ stage: 'connected', status: 'completed' });
      expect(ids(capture)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(capture.ending).toBe('eof');
      expect(capture.durationMs).toBeLessThan(100);
    });
  });

  it('ends a stream at the duration cap with a timeout event', async () => {
    await withServer(
      [],
      async (target) => {
        const capture = await captureStream(await streamUrl(target, await create(target)));
        expect(capture.events.at(-1)).toMatchObject({ id: undefined, type: 'timeout', data: { stage: 'timeout', status: 'processing' } });
        expect(capture.durationMs).toBeGreaterThanOrEqual(380);
        expect(capture.durationMs).toBeLessThan(800);
        expect(capture.ending).toBe('eof');
      },
      { ...FAULT_TIMINGS, generationMs: 5000, streamMaxMs: 400 },
    );
  });

  it('forgets streams whose client left, and closes promptly with streams open', async () => {
    const target = await startReferenceServer({ timings: FAULT_TIMINGS });
    const left = await captureStream(await streamUrl(target, await create(target)), { abortAfterMs: 100 });
    expect(left.ending).toBe('aborted');
    await sleep(50);
    expect(target.openStreams).toBe(0);

    const open = captureStream(await streamUrl(target, await create(target)));
    await sleep(50);
    expect(target.openStreams).toBe(1);
    const startedAt = performance.now();
    await target.close();
    expect(performance.now() - startedAt).toBeLessThan(500);
    expect((await open).ending).toBe('error');
  });
});

describe.concurrent('generic stream', () => {
  it('streams chunks with ids and the trace id, then complete', async () => {
    const capture = await captureStream(`${server.baseUrl}/generic/stream?chunks=4&intervalMs=20`);
    expect(capture.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(ids(capture)).toEqual([1, 2, 3, 4]);
    expect(capture.events.map((event) => event.data.index).slice(0, 4)).toEqual([0, 1, 2, 3]);
    expect(capture.events[0]?.data.trace_id).toBe(capture.headers['x-trace-id']);
    expect(capture.events.at(-1)).toMatchObject({ type: 'complete', data: { reason: 'done' } });
    expect(capture.ending).toBe('eof');
  });

  it('resumes after Last-Event-ID and fills silences with typed heartbeat events', async () => {
    const resumed = await captureStream(`${server.baseUrl}/generic/stream?chunks=4&intervalMs=20`, { headers: { 'last-event-id': '2' } });
    expect(ids(resumed)).toEqual([3, 4]);
    const slow = await captureStream(`${server.baseUrl}/generic/stream?chunks=1&intervalMs=300`);
    const beats = slow.events.filter((event) => event.type === 'heartbeat');
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(beats[0]).toMatchObject({ id: undefined });
    expect(beats[0]?.data).toHaveProperty('uptime_seconds');
    expect(beats[0]?.data).toHaveProperty('remaining_seconds');
  });

  it('ends at the duration cap with complete/duration_cap, and rejects bad parameters', async () => {
    await withServer(
      [],
      async (target) => {
        const capture = await captureStream(`${target.baseUrl}/generic/stream?chunks=100&intervalMs=50`);
        expect(capture.events.at(-1)).toMatchObject({ type: 'complete', data: { reason: 'duration_cap' } });
        expect(capture.ending).toBe('eof');
        expect((await captureStream(`${target.baseUrl}/generic/stream?chunks=lots`)).status).toBe(422);
      },
      { ...FAULT_TIMINGS, streamMaxMs: 300 },
    );
  });
});

describe.concurrent('faults each break one rule', () => {
  it('immediate-close: tokens for terminal generations, and their streams close at once with no event', async () => {
    await withServer(['immediate-close'], async (target) => {
      const id = await create(target);
      await waitForStatus(target, id, 'completed');
      const capture = await captureStream(await streamUrl(target, id));
      expect(capture.status).toBe(200);
      expect(capture.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(capture.raw).toBe('');
      expect(capture.ending).toBe('eof');
    });
  });

  it('no-rate-limit: the 11th token request still gets a token', async () => {
    await withServer(['no-rate-limit'], async (target) => {
      const id = await create(target);
      for (let attempt = 0; attempt < 12; attempt++) expect((await requestToken(target, id)).status).toBe(200);
    });
  });

  it('no-heartbeat: the thinking phase is silent though the header promises heartbeats', async () => {
    await withServer(['no-heartbeat'], async (target) => {
      const capture = await captureStream(await streamUrl(target, await create(target)));
      expect(capture.headers['x-heartbeat-interval']).toBe('0.1');
      expect(heartbeats(capture)).toHaveLength(0);
      expect(ids(capture)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    });
  });

  it('buffered: events arrive in late bursts', async () => {
    await withServer(['buffered'], async (target) => {
      const capture = await captureStream(await streamUrl(target, await create(target)));
      expect(capture.items[0]?.at).toBeGreaterThanOrEqual(200);
      expect(new Set(capture.items.map((item) => item.at)).size).toBeLessThanOrEqual(4);
      expect(ids(capture)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    });
  });

  it('reusable-token: a token opens a second stream', async () => {
    await withServer(['reusable-token'], async (target) => {
      const url = await streamUrl(target, await create(target));
      const [first, second] = await Promise.all([captureStream(url), captureStream(url)]);
      expect([first.status, second.status]).toEqual([200, 200]);
    });
  });

  it('linger: the stream stays open with heartbeats after the terminal event until the cap', async () => {
    await withServer(
      ['linger'],
      async (target) => {
        const capture = await captureStream(await streamUrl(target, await create(target)));
        const complete = capture.events.find((event) => event.type === 'complete');
        expect(complete).toBeDefined();
        expect(heartbeats(capture).filter((item) => item.at > (complete?.at ?? 0)).length).toBeGreaterThanOrEqual(2);
        expect(capture.events.at(-1)?.type).toBe('timeout');
        expect(capture.durationMs).toBeGreaterThanOrEqual(950);
      },
      { ...FAULT_TIMINGS, streamMaxMs: 1000 },
    );
  });

  it('drop-mid-stream: the first connection is cut after its first event, a resume is not', async () => {
    await withServer(['drop-mid-stream'], async (target) => {
      const id = await create(target);
      const [firstUrl, secondUrl] = [await streamUrl(target, id), await streamUrl(target, id)];
      const first = await captureStream(firstUrl);
      expect(first.ending).toBe('error');
      expect(ids(first)).toEqual([1]);
      expect(types(first)).not.toContain('complete');
      const resumed = await captureStream(secondUrl, { headers: { 'last-event-id': '1' } });
      expect(ids(resumed)).toEqual([2, 3, 4, 5, 6, 7, 8]);
      expect(resumed.ending).toBe('eof');
    });
  });

  it('terminal-500: a failed generation answers 500, a completed one still 400', async () => {
    await withServer(['terminal-500'], async (target) => {
      const failing = await create(target, FAILING_PROMPT);
      const completing = await create(target);
      await waitForStatus(target, completing, 'completed');
      expect(await requestToken(target, failing)).toMatchObject({ status: 500, body: { detail: 'Internal Server Error' } });
      expect((await requestToken(target, completing)).status).toBe(400);
    });
  });

  it('no-resume: Last-Event-ID is ignored and the log replays from id 1', async () => {
    await withServer(['no-resume'], async (target) => {
      const id = await create(target);
      await waitForStatus(target, id, 'processing');
      const capture = await captureStream(await streamUrl(target, id), { headers: { 'last-event-id': '3' } });
      expect(ids(capture)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    });
  });

  it('wrong-content-type: the stream is text/plain', async () => {
    await withServer(['wrong-content-type'], async (target) => {
      const capture = await captureStream(await streamUrl(target, await create(target)));
      expect(capture.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(ids(capture)).toHaveLength(8);
    });
  });

  it('no-connected: the first event is the first of the log', async () => {
    await withServer(['no-connected'], async (target) => {
      const capture = await captureStream(await streamUrl(target, await create(target)));
      expect(capture.events[0]).toMatchObject({ id: '1', type: 'progress' });
      expect(capture.events.some((event) => event.data.stage === 'connected')).toBe(false);
    });
  });

  it('no-trace: no X-Trace-ID header', async () => {
    await withServer(['no-trace'], async (target) => {
      const capture = await captureStream(await streamUrl(target, await create(target)));
      expect(capture.status).toBe(200);
      expect(capture.headers['x-trace-id']).toBeUndefined();
    });
  });

  it('open-stream: any token, or none, opens the stream', async () => {
    await withServer(['open-stream'], async (target) => {
      const id = await create(target);
      const base = `${target.baseUrl}/generations/generate/${id}/stream`;
      const [none, garbage] = await Promise.all([captureStream(base), captureStream(`${base}?token=nope`)]);
      expect([none.status, garbage.status]).toEqual([200, 200]);
      expect(none.events[0]?.data.stage).toBe('connected');
    });
  });

  it('no-auth: create, status and token work without a bearer', async () => {
    await withServer(['no-auth'], async (target) => {
      const anonymous = await create(target, PROMPT, null);
      expect((await call(target.baseUrl, 'GET', `/generations/${anonymous}`)).status).toBe(200);
      const alices = await create(target);
      expect((await requestToken(target, alices, null)).status).toBe(200);
      expect((await requestToken(target, alices, 'bob')).status).toBe(404);
    });
  });

  it('cross-user: another user gets a token, though status stays private', async () => {
    await withServer(['cross-user'], async (target) => {
      const id = await create(target);
      expect((await requestToken(target, id, 'bob')).status).toBe(200);
      expect((await call(target.baseUrl, 'GET', `/generations/${id}`, { user: 'bob' })).status).toBe(404);
    });
  });
});

describe('serve', () => {
  it('prints the base URL first on stdout, describes itself on stderr, logs when verbose, stops on abort', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const controller = new AbortController();
    const running = serve(
      { port: 0, host: '127.0.0.1', faults: ['no-trace'], timings: { ...DEFAULT_TIMINGS, generationMs: 600 }, verbose: true, workers: 1 },
      { stdout, stderr, signal: controller.signal },
    );
    while (!out.includes('\n')) await sleep(10);
    const baseUrl = out.split('\n')[0] ?? '';
    expect(baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api$/);
    expect(err).toContain('faults: no-trace');
    expect((await call(baseUrl, 'GET', '/nowhere')).status).toBe(404);
    controller.abort();
    await running;
    expect(err).toMatch(/GET \/api\/nowhere 404 \d+ms/);
    expect(out.trim()).toBe(baseUrl);
  });
});
