import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientModel, CLIENT_MODELS } from '../src/engine/clientPolicy.js';
import { GenerationsApi, type StreamUrlForm } from '../src/engine/generationsApi.js';
import { createDispatcher } from '../src/engine/http.js';
import { runStreamSession, sessionTarget } from '../src/engine/streamSession.js';
import { resolveTargetOptions } from '../src/options/options.js';
import { startMisbehavingServer, sseHeaders, type MisbehavingServer } from './helpers/misbehaving.js';

/**
 * A token endpoint that answers whatever body a test sets, and a stream endpoint that opens only
 * for `?token=tok` at the API's own path (`/api/...`), as a FastAPI app mounted under /api does.
 */
let server: MisbehavingServer;
let tokenBody: string;
const STREAM_PATH = '/api/generations/generate/g1/stream';
beforeAll(async () => {
  const stream: Parameters<typeof startMisbehavingServer>[0][string] = (req, res) => {
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    if (token !== 'tok') {
      res.writeHead(token === null ? 422 : 401, { 'content-type': 'application/json' }).end('{"detail":"bad token"}');
      return;
    }
    res.writeHead(200, sseHeaders);
    res.end('data: {"status":"processing","stage":"connected"}\n\ndata: {"status":"completed","stage":"complete"}\n\n');
  };
  server = await startMisbehavingServer({
    '/api/generations/generate/g1/stream-token': (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(tokenBody),
    [STREAM_PATH]: stream,
    '/elsewhere/stream': stream,
  });
});
afterAll(() => server.close());

const target = () => resolveTargetOptions({ baseUrl: server.url('/api'), auth: 'alice' }, {}, tmpdir());
const api = () => new GenerationsApi(target());

const answer = (streamUrl: unknown) => JSON.stringify({ sse_token: 'tok', expires_in: 60, ...(streamUrl === undefined ? {} : { stream_url: streamUrl }), generation_id: 'g1' });

describe('stream_url in every shape backends send', () => {
  const cases: [string, () => unknown, StreamUrlForm, boolean, string][] = [
    ["seed 002's: relative to the API root, no token", () => '/generations/generate/g1/stream', 'api-root-relative', false, STREAM_PATH],
    ['relative to the API root, with the token', () => '/generations/generate/g1/stream?token=tok', 'api-root-relative', true, STREAM_PATH],
    ['relative to the origin, no token', () => STREAM_PATH, 'origin-relative', false, STREAM_PATH],
    ['relative to the origin, with the token', () => `${STREAM_PATH}?token=tok`, 'origin-relative', true, STREAM_PATH],
    ['absolute, no token', () => server.url('/elsewhere/stream'), 'absolute', false, '/elsewhere/stream'],
    ['absolute, with the token', () => server.url('/elsewhere/stream?token=tok'), 'absolute', true, '/elsewhere/stream'],
    ['path-relative (no leading slash)', () => 'generations/generate/g1/stream', 'path-relative', false, STREAM_PATH],
    ["absent: the profile's stream path", () => undefined, 'absent', false, STREAM_PATH],
  ];

  it.each(cases)('%s: streams from the right URL with the token once', async (_name, streamUrl, form, tokenIncluded, path) => {
    tokenBody = answer(streamUrl());
    const result = await api().requestToken('g1');
    if (!result.ok) throw new Error(`no token: ${JSON.stringify(result)}`);
    expect(result.token.shape).toEqual({ form, tokenIncluded });
    const url = new URL(result.token.streamUrl);
    expect(url.pathname).toBe(path);
    expect(url.searchParams.getAll('token')).toEqual(['tok']);
  });

  it("tail-like session on seed 002's shape reaches the terminal event (no 422 for a missing token)", async () => {
    tokenBody = answer('/generations/generate/g1/stream');
    const generationsApi = api();
    const before = server.requests.length;
    const result = await runStreamSession({
      ...sessionTarget(target(), generationsApi, { kind: 'token', api: generationsApi, generationId: 'g1' }),
      model: createClientModel('robust', target().profile.client),
    });
    expect(result.sawTerminal).toBe(true);
    expect(server.requests.slice(before).map((request) => request.path)).toEqual(['/api/generations/generate/g1/stream-token', STREAM_PATH]);
  });
});

describe('a 200 token answer no client can use', () => {
  const cases: [string, string, string][] = [
    ['a body that is not JSON', '<html>oops</html>', 'token endpoint answered 200 but its body is not JSON'],
    ['a JSON array', '[]', 'token endpoint answered 200 but its body is JSON an array, not an object'],
    ['sse_token as a number', JSON.stringify({ sse_token: 42, stream_url: '/x' }), 'token endpoint answered 200 but sse_token is a number'],
    ['sse_token missing', JSON.stringify({ stream_url: '/x' }), 'token endpoint answered 200 but sse_token is missing'],
    ['sse_token empty', JSON.stringify({ sse_token: '  ' }), 'token endpoint answered 200 but sse_token is an empty string'],
    ['stream_url as an object', JSON.stringify({ sse_token: 'tok', stream_url: { path: '/x' } }), 'token endpoint answered 200 but stream_url is an object, not a string'],
  ];

  it.each(cases)('%s: one line naming it', async (_name, body, line) => {
    tokenBody = body;
    const result = await api().requestToken('g1');
    expect(result).toMatchObject({ ok: false, unusable: line });
  });

  it.each(CLIENT_MODELS)('the %s client never retries it', async (model) => {
    tokenBody = JSON.stringify({ sse_token: 42 });
    const dispatcher = createDispatcher({ connectTimeoutMs: 2000, insecure: false });
    try {
      const generationsApi = new GenerationsApi(target(), { dispatcher });
      const result = await runStreamSession({
        ...sessionTarget(target(), generationsApi, { kind: 'token', api: generationsApi, generationId: 'g1' }),
        model: createClientModel(model, target().profile.client),
        maxAttempts: 20,
      });
      expect(result.tokenRequests).toBe(1);
      expect(result.connections).toBe(0);
      expect(result.unusableToken).toBe('token endpoint answered 200 but sse_token is a number');
      expect(result.stop).toMatchObject({ action: 'stop', reason: 'token endpoint answered 200 but sse_token is a number' });
    } finally {
      await dispatcher.close();
    }
  });
});
