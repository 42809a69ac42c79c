import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../src/browser/chromium.js';
import { startReferenceServer, type ReferenceServer } from '../src/server/referenceServer.js';
import { runCli } from './helpers/cli.js';

/**
 * A frontend on its own origin, written like the seed's: a token by fetch with a bearer, then an
 * EventSource on `?token=`. It reports what a real browser let it see.
 */
const FRONTEND = `<!doctype html><script>
async function run(api) {
  const auth = { Authorization: 'Bearer alice' };
  const created = await fetch(api + '/generations/generate', {
    method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: 'Create a REST API with authentication' }),
  });
  const { id } = await created.json();
  const token = async () => (await (await fetch(api + '/generations/generate/' + id + '/stream-token', { method: 'POST', headers: auth })).json()).sse_token;
  const peek = new AbortController();
  const headersSeen = await fetch(api + '/generations/generate/' + id + '/stream?token=' + (await token()), { signal: peek.signal, headers: { 'Last-Event-ID': '0' } });
  const exposed = ['X-Trace-ID', 'X-Stream-Max-Seconds', 'X-Heartbeat-Interval'].map((name) => headersSeen.headers.get(name));
  peek.abort();
  const stages = await new Promise((resolve, reject) => {
    token().then((sseToken) => {
      const source = new EventSource(api + '/generations/generate/' + id + '/stream?token=' + sseToken);
      const seen = [];
      const onEvent = (event) => {
        const data = JSON.parse(event.data);
        seen.push(data.stage);
        if (data.status === 'completed') { source.close(); resolve(seen); }
      };
      for (const type of ['message', 'progress', 'content_chunk', 'complete', 'error']) source.addEventListener(type, onEvent);
      source.onerror = () => { source.close(); reject(new Error('EventSource error after ' + JSON.stringify(seen))); };
    }, reject);
  });
  const limited = [];
  for (let i = 0; i < 3; i++) {
    const reply = await fetch(api + '/generations/generate/' + id + '/stream-token', { method: 'POST', headers: auth });
    limited.push([reply.status, reply.headers.get('Retry-After')]);
  }
  return { created: created.status, exposed, stages, limited };
}
</script>`;

interface FrontendResult {
  created: number;
  exposed: (string | null)[];
  stages: string[];
  limited: [number, string | null][];
}

let api: ReferenceServer;
let frontend: Server;
let frontendUrl: string;
let browser: Browser;
beforeAll(async () => {
  api = await startReferenceServer({ timings: { generationMs: 600, heartbeatMs: 100, rateLimit: 2, rateWindowMs: 60_000 } });
  frontend = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(FRONTEND));
  await new Promise<void>((resolve) => frontend.listen(0, '127.0.0.1', resolve));
  frontendUrl = `http://127.0.0.1:${(frontend.address() as AddressInfo).port}/`;
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  frontend.closeAllConnections();
  await new Promise((resolve) => frontend.close(resolve));
  await api.close();
});

describe('serve: CORS for a frontend on another origin', () => {
  it('a real page on another port creates, streams with EventSource and reads the headers the tool reads', async () => {
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    await page.goto(frontendUrl);
    const result = await page
      .evaluate<FrontendResult, string>((base) => (globalThis as unknown as { run(api: string): Promise<FrontendResult> }).run(base), api.baseUrl)
      // The page's stack names http://127.0.0.1:PORT/, which vitest would try to read as a source map.
      .catch((error: Error) => {
        throw new Error(`the page failed: ${error.message.split('\n')[0]}`);
      });
    expect(result.created).toBe(201);
    expect(result.exposed[0]).toMatch(/^[0-9a-f]{16}$/);
    expect(result.exposed.slice(1)).toEqual(['60', '0.1']);
    expect(result.stages[0]).toBe('connected');
    expect(result.stages.at(-1)).toBe('complete');
    // The rate limit of 2 was spent by the two tokens above: the third call is the 429 with its Retry-After readable.
    expect(result.limited.map(([status]) => status)).toEqual([429, 429, 429]);
    expect(Number(result.limited[0]?.[1])).toBeGreaterThan(0);
    expect(consoleErrors.filter((text) => /CORS/i.test(text))).toEqual([]);
  }, 20_000);

  it('answers a preflight with 204 on every route, naming the request headers a page sends', async () => {
    for (const path of ['/generations/generate', '/generations/generate/x/stream-token', '/generations/generate/x/stream', '/generations/x', '/generic/stream']) {
      const reply = await request(api.baseUrl + path, {
        method: 'OPTIONS',
        headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      await reply.body.dump();
      expect(reply.statusCode, path).toBe(204);
      expect(reply.headers['access-control-allow-origin']).toBe('http://app.example');
      expect(String(reply.headers['access-control-allow-headers']).toLowerCase()).toContain('last-event-id');
    }
  });

  it('sends no CORS headers to a caller without an Origin (curl, the tool itself)', async () => {
    const reply = await request(`${api.baseUrl}/generations/missing`, { headers: { authorization: 'Bearer alice' } });
    await reply.body.dump();
    expect(reply.statusCode).toBe(404);
    expect(reply.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('serve --port on a port in use', () => {
  let taken: NetServer;
  let port: number;
  beforeAll(async () => {
    taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    port = (taken.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => taken.close(resolve)));

  it.each([[['--workers', '1']], [['--workers', '2']]])('%j: one line, exit 2, no stack', async (extra) => {
    const run = await runCli(['serve', '--port', String(port), ...extra]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^sse-doctor: port ${port} is already in use: .*EADDRINUSE`))]);
  });
});
