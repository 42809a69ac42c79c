import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEnd, openStream } from '../src/engine/connection.js';
import { isHttpFailure, sendJson, type HttpExchange, type JsonRequest } from '../src/engine/http.js';
import { MAX_REDIRECTS, REDIRECTS_NOT_FOLLOWED } from '../src/engine/redirects.js';
import { runCli } from './helpers/cli.js';
import { sseHeaders, startMisbehavingServer, type MisbehavingServer } from './helpers/misbehaving.js';

/**
 * `--follow-redirects` against two real servers on 127.0.0.1:0, two origins: `home` redirects,
 * `elsewhere` is where cross-origin redirects land and records every request's headers, so a
 * bearer that crossed would be seen.
 */
interface Seen {
  readonly path: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

const BEARER = 'redirect-bearer-Zq81Lk';
const API_KEY = 'redirect-key-Pw27Hs';
const seen: Seen[] = [];
let home: MisbehavingServer;
let elsewhere: MisbehavingServer;

const record = (path: string, method: string, headers: IncomingHttpHeaders, body: string) => seen.push({ path, method, headers, body });
const json = (body: unknown) => JSON.stringify(body);
/** Where a request lands: recorded with its headers and body, answered with `answer`. */
const landing = (name: string, answer: unknown) => (req: IncomingMessage, res: ServerResponse) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    record(name, req.method ?? '', req.headers, body);
    res.writeHead(200, { 'content-type': 'application/json' }).end(json(answer));
  });
};
const terminalEvent = `data: ${json({ status: 'completed', stage: 'complete' })}\n\n`;

beforeAll(async () => {
  elsewhere = await startMisbehavingServer({
    '/landing': landing('elsewhere/landing', { landed: true }),
    '/events': (req, res) => {
      record('elsewhere/events', req.method ?? '', req.headers, '');
      res.writeHead(200, sseHeaders).end(terminalEvent);
    },
  });
  const to = (location: () => string, status = 302) => (_req: unknown, res: ServerResponse) => res.writeHead(status, { location: location() }).end();
  home = await startMisbehavingServer({
    '/same': to(() => '/same-target', 307),
    '/same-target': landing('home/same-target', { same: true }),
    '/cross': to(() => elsewhere.url('/landing')),
    '/stream-cross': to(() => elsewhere.url('/events')),
    '/loop-a': to(() => '/loop-b'),
    '/loop-b': to(() => '/loop-a'),
    // A chain that never repeats a URL: only the bound stops it.
    '/chain': (req, res) => res.writeHead(302, { location: `/chain?hop=${Number(new URL(req.url ?? '/', 'http://x').searchParams.get('hop') ?? 0) + 1}` }).end(),
  });
});
afterAll(async () => {
  await home.close();
  await elsewhere.close();
});

const credentials = { authorization: `Bearer ${BEARER}`, 'x-api-key': API_KEY, 'x-team': 'payments' };
const post = (path: string, followRedirects: boolean): JsonRequest => ({ method: 'POST', url: home.url(path), headers: credentials, body: { prompt: 'hello' }, headersTimeoutMs: 2000, followRedirects });
const exchange = async (req: JsonRequest): Promise<HttpExchange> => {
  const result = await sendJson(req);
  if (isHttpFailure(result)) throw new Error(result.message);
  return result;
};
const lastSeen = (path: string) => seen.filter((request) => request.path === path).at(-1);

describe('--follow-redirects', () => {
  it('follows a same-origin 307 with its method, body and bearer', async () => {
    const result = await exchange(post('/same', true));
    expect(result).toMatchObject({ status: 200, json: { same: true } });
    expect(lastSeen('home/same-target')).toMatchObject({ method: 'POST', body: json({ prompt: 'hello' }), headers: { authorization: `Bearer ${BEARER}`, 'x-api-key': API_KEY } });
  });

  it('follows a cross-origin 302 as a GET, without the bearer or any credential header', async () => {
    const result = await exchange(post('/cross', true));
    expect(result).toMatchObject({ status: 200, json: { landed: true } });
    const landed = lastSeen('elsewhere/landing');
    expect(landed).toMatchObject({ method: 'GET', body: '', headers: { 'x-team': 'payments' } });
    expect(landed?.headers.authorization).toBeUndefined();
    expect(landed?.headers['x-api-key']).toBeUndefined();
    expect(JSON.stringify(landed?.headers)).not.toContain(BEARER);
  });

  it('follows a stream to another origin without the bearer', async () => {
    const result = await openStream({ url: home.url('/stream-cross'), headers: credentials, silenceTimeoutMs: 0, maxLineBytes: 16_384, headersTimeoutMs: 2000, isTerminal: () => true, followRedirects: true });
    expect(result.end).toEqual({ kind: 'clean-terminal' });
    expect(result.events).toBe(1);
    const landed = lastSeen('elsewhere/events');
    expect(landed?.headers.authorization).toBeUndefined();
    expect(landed?.headers['x-api-key']).toBeUndefined();
  });

  it('stops at a loop, in one line naming it', async () => {
    const result = await exchange({ ...post('/loop-a', true), method: 'GET', body: undefined });
    expect(result.status).toBe(302);
    expect(result.redirect).toBe(`a redirect loop: ${home.url('/loop-a')} -> ${home.url('/loop-b')} -> ${home.url('/loop-a')}`);
    const stream = await openStream({ url: home.url('/loop-a'), silenceTimeoutMs: 0, maxLineBytes: 16_384, headersTimeoutMs: 2000, followRedirects: true });
    expect(describeEnd(stream.end)).toMatch(/^HTTP 302 redirecting to \/loop-a \(a redirect loop: .*loop-a -> .*loop-b -> .*loop-a\)$/);
  });

  it(`stops a chain after ${MAX_REDIRECTS} redirects`, async () => {
    const before = home.requests.filter((request) => request.path === '/chain').length;
    const result = await exchange({ ...post('/chain', true), method: 'GET', body: undefined });
    expect(result.redirect).toMatch(new RegExp(`^more than ${MAX_REDIRECTS} redirects: `));
    expect(home.requests.filter((request) => request.path === '/chain').length - before).toBe(MAX_REDIRECTS + 1);
  });

  it('without the flag: the 3xx is the answer, its Location named, nothing followed', async () => {
    const before = seen.length;
    const result = await exchange(post('/same', false));
    expect(result).toMatchObject({ status: 307, headers: { location: '/same-target' }, redirect: REDIRECTS_NOT_FOLLOWED });
    const stream = await openStream({ url: home.url('/stream-cross'), silenceTimeoutMs: 0, maxLineBytes: 16_384, headersTimeoutMs: 2000 });
    expect(describeEnd(stream.end)).toBe(`HTTP 302 redirecting to ${elsewhere.url('/events')} (${REDIRECTS_NOT_FOLLOWED})`);
    expect(seen.length).toBe(before);
  });
});

describe('--follow-redirects on the command line', { timeout: 60_000 }, () => {
  it('tail --url through a cross-origin redirect: the stream is followed, the bearer and -H credential stay home', async () => {
    const args = ['tail', '--url', home.url('/stream-cross'), '--auth', BEARER, '-H', `X-Api-Key: ${API_KEY}`];
    const followed = await runCli([...args, '--follow-redirects']);
    expect(followed.code, followed.stderr).toBe(0);
    const landed = lastSeen('elsewhere/events');
    expect(landed?.headers.authorization).toBeUndefined();
    expect(landed?.headers['x-api-key']).toBeUndefined();
    const before = seen.length;
    const notFollowed = await runCli(args);
    expect(notFollowed.code).toBe(1);
    expect(notFollowed.stdout).toContain(`redirecting to ${elsewhere.url('/events')} (sse-doctor follows redirects only with --follow-redirects`);
    expect(seen.length).toBe(before);
  });
});
