import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NGINX_VARIANTS, STARTUP_TIMEOUT_MS, startFastApiBackend, startNginx, type NginxTarget, type NginxVariant, type PythonTarget } from './helpers/realTargets.js';
import { rawGet, type RawCapture } from './helpers/rawStream.js';
import { call } from './helpers/referenceClient.js';

/**
 * What each nginx configuration really does to an event stream, seen with a raw request (a
 * socket, our own chunked and gzip decoding): the facts the rules are then judged against.
 * Every assertion compares arrival times with the times the backend stamped on its events, never
 * with a fixed duration, so a slow machine cannot make them pass or fail.
 */

const TIMINGS = { generationMs: 3000, heartbeatMs: 2000 };
const READ_TIMEOUT_SECONDS = 1;

let backend: PythonTarget;
const proxies = new Map<NginxVariant, NginxTarget>();
const captures = new Map<NginxVariant, Promise<RawCapture>>();

beforeAll(async () => {
  backend = await startFastApiBackend({ timings: TIMINGS });
  await Promise.all(
    NGINX_VARIANTS.map(async (variant) => proxies.set(variant, await startNginx({ upstream: backend.baseUrl, variant, readTimeoutSeconds: READ_TIMEOUT_SECONDS }))),
  );
  // One generation per variant, all streamed at once: the whole matrix takes one generation's time.
  for (const [variant, nginx] of proxies) captures.set(variant, streamThrough(nginx));
  await Promise.allSettled(captures.values());
}, STARTUP_TIMEOUT_MS * 2);
afterAll(async () => {
  await Promise.all([...proxies.values()].map((nginx) => nginx.close()));
  await backend?.close();
});

async function streamThrough(nginx: NginxTarget): Promise<RawCapture> {
  const created = await call(nginx.baseUrl, 'POST', '/generations/generate', { user: 'alice', body: { prompt: 'Create a REST API with authentication' } });
  const token = await call(nginx.baseUrl, 'POST', `/generations/generate/${created.body.id}/stream-token`, { user: 'alice' });
  return rawGet(`${nginx.baseUrl}/generations/generate/${created.body.id}/stream?token=${token.body.sse_token}`, { maxMs: 15_000 });
}

const chunks = (capture: RawCapture) => capture.events.filter((event) => event.event === 'content_chunk');
const producedAt = (event: RawCapture['events'][number]) => event.producedAt as number;

/** The content chunks arrived spread out as they were made, not in one burst. */
function expectLive(capture: RawCapture): void {
  const made = chunks(capture);
  expect(made.length).toBe(5);
  const producedSpan = producedAt(made.at(-1)!) - producedAt(made[0]!);
  const arrivedSpan = made.at(-1)!.at - made[0]!.at;
  expect(arrivedSpan).toBeGreaterThan(producedSpan / 2);
  // The headers came before the content was made: nothing held them back.
  expect(capture.headersAt).toBeLessThan(producedAt(made[0]!));
}

describe('nginx in front of the FastAPI backend, seen with a raw request', () => {
  it.each(['sse-correct', 'strips-accel-header', 'buffered-honours-accel', 'buffered-http11'] as const)(
    '%s: headers at once, events live, a clean end',
    async (variant) => {
      const capture = await captures.get(variant)!;
      expect(capture.status).toBe(200);
      expectLive(capture);
      expect(capture.events.at(-1)?.event).toBe('complete');
      expect(capture.ending).toBe('eof');
    },
  );

  it('every variant hides X-Accel-Buffering from the client (nginx hides X-Accel-* by default, not only under proxy_hide_header)', async () => {
    for (const variant of NGINX_VARIANTS) {
      const capture = await captures.get(variant)!;
      expect(capture.headers['x-accel-buffering'], variant).toBeUndefined();
      expect(capture.headers['content-type'], variant).toMatch(/^text\/event-stream/);
    }
  });

  it('buffered-http10: the headers and every event are held back until the generation is over', async () => {
    const capture = await captures.get('buffered-http10')!;
    const complete = capture.events.find((event) => event.event === 'complete')!;
    expect(capture.headersAt).toBeGreaterThanOrEqual(producedAt(complete));
    expect(Math.min(...capture.events.map((event) => event.at))).toBeGreaterThanOrEqual(producedAt(complete));
    expect(chunks(capture)).toHaveLength(5);
    expect(capture.ending).toBe('eof');
  });

  it('gzip: a gzip body to a client that asks like a browser, each event flushed as it is made', async () => {
    const capture = await captures.get('gzip')!;
    expect(capture.headers['content-encoding']).toBe('gzip');
    const decodedBytes = capture.events.reduce((sum, event) => sum + event.data.length, 0);
    expect(capture.wireBytes).toBeLessThan(decodedBytes);
    expectLive(capture);
    expect(capture.events.at(-1)?.event).toBe('complete');
    expect(capture.ending).toBe('eof');
  });

  it('short-read-timeout: the stream is cut after the read timeout of silence, before any heartbeat or terminal event', async () => {
    const capture = await captures.get('short-read-timeout')!;
    expect(capture.status).toBe(200);
    expect(capture.ending).toBe('cut');
    expect(capture.comments).toEqual([]);
    expect(capture.events.map((event) => event.event)).not.toContain('complete');
    const lastByteAt = Math.max(capture.headersAt, ...capture.events.map((event) => event.at));
    // nginx counts from its own last read of the upstream, a little before our last byte arrived.
    expect(capture.endedAt - lastByteAt).toBeGreaterThan((READ_TIMEOUT_SECONDS * 1000) / 2);
    expect(capture.endedAt - lastByteAt).toBeLessThan(TIMINGS.heartbeatMs);
  });

  it('writes the combined access log and the $request_time one, the stream request included', async () => {
    const { readFileSync } = await import('node:fs');
    const nginx = proxies.get('sse-correct')!;
    const combined = readFileSync(nginx.accessLogPath, 'utf8');
    expect(combined).toMatch(/^127\.0\.0\.1 - - \[[^\]]+\] "GET \/api\/generations\/generate\/[^ ]+\/stream\?token=[^ ]+ HTTP\/1\.1" 200 \d+ "-" "-"$/m);
    expect(readFileSync(nginx.timedAccessLogPath, 'utf8')).toMatch(/"GET \/api\/generations\/generate\/[^ ]+\/stream\?token=[^ ]+ HTTP\/1\.1" 200 \d+ "-" "-" rt=\d+\.\d{3} urt=\d+\.\d{3}$/m);
  });
});
