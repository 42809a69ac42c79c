import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventSource } from 'eventsource';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../src/browser/chromium.js';
import { startFaultProxy, type FaultProxy, type ProxyConnection, type ProxyConnectionEnd } from '../src/proxy/faultProxy.js';
import { sseHeaders, startMisbehavingServer, type MisbehavingServer } from './helpers/misbehaving.js';

/**
 * Real clients behind `proxy`: Chromium's EventSource and the `eventsource` package. Seen before:
 * both waited 3 s to reconnect while the proxy logged "again after 5.0 s" (request start to
 * request start), it never showed the Last-Event-ID sent, and said nothing of a browser reusing
 * a single-use token.
 */
const RETRY_MS = 300;
/** How long each connection stays open: what a start-to-start interval would wrongly add. */
const OPEN_MS = 1500;

/** One event per connection (continuing after Last-Event-ID), with a short `retry:`, then a clean close. */
function oneEventThenClose(req: IncomingMessage, res: ServerResponse): void {
  const id = Number(req.headers['last-event-id'] ?? 0) + 1;
  res.writeHead(200, sseHeaders);
  res.write(`retry: ${RETRY_MS}\nid: ${id}\ndata: {"n":${id}}\n\n`);
  const timer = setTimeout(() => res.end(), OPEN_MS);
  res.on('close', () => clearTimeout(timer));
}

/** A stream authorised by a single-use token: the second use of a token is answered 401. */
const usedTokens = new Set<string>();
function singleUseToken(req: IncomingMessage, res: ServerResponse): void {
  const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '';
  if (usedTokens.has(token)) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"detail":"token already used"}');
  usedTokens.add(token);
  oneEventThenClose(req, res);
}

const PAGE = `<!doctype html><script>
window.received = [];
const source = new EventSource(new URLSearchParams(location.search).get('stream'));
source.onmessage = (event) => { window.received.push(event.data); if (window.received.length >= 3) source.close(); };
source.onerror = () => { if (source.readyState === EventSource.CLOSED) window.failed = true; };
</script>`;

let backend: MisbehavingServer;
let proxy: FaultProxy;
const log = { connections: [] as ProxyConnection[], ends: [] as ProxyConnectionEnd[] };
let browser: Browser;
beforeAll(async () => {
  backend = await startMisbehavingServer({
    '/page': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE),
    '/chromium/stream': oneEventThenClose,
    '/node/stream': oneEventThenClose,
    '/chromium/token-stream': singleUseToken,
    '/node/token-stream': singleUseToken,
  });
  proxy = await startFaultProxy(
    { target: backend.url('/'), rules: { reset: false, latencyMs: 0, bufferMs: 0 } },
    { onConnection: (connection) => log.connections.push(connection), onConnectionEnd: (end) => log.ends.push(end) },
  );
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await proxy.close();
  await backend.close();
});

const until = async (done: () => boolean, timeoutMs = 20_000) => {
  for (const started = Date.now(); !done(); ) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
const connectionsTo = (path: string) => log.connections.filter((connection) => connection.path.startsWith(path));
const endOf = (connection: ProxyConnection) => log.ends.find((end) => end.id === connection.id);

/** Opens `path` in Chromium (through the proxy) until three events arrived, or the EventSource failed. */
async function inChromium(path: string): Promise<void> {
  const page = await browser.newPage();
  try {
    await page.goto(`${proxy.url.replace(/\/$/, '')}/page?stream=${encodeURIComponent(path)}`);
    await page.waitForFunction('window.received.length >= 3 || window.failed === true', undefined, { timeout: 20_000 });
  } finally {
    await page.close();
  }
}

/** The same with the `eventsource` package. */
async function inNode(path: string): Promise<void> {
  const source = new EventSource(`${proxy.url.replace(/\/$/, '')}${path}`);
  let received = 0;
  try {
    await new Promise<void>((resolve) => {
      source.onmessage = () => {
        if (++received >= 3) resolve();
      };
      source.onerror = () => {
        if (source.readyState === EventSource.CLOSED) resolve();
      };
    });
  } finally {
    source.close();
  }
}

describe.each([
  ['Chromium', '/chromium', inChromium],
  ['the eventsource package', '/node', inNode],
] as const)('%s through proxy', (_name, prefix, open) => {
  it("logs the client's real reconnect delay (end to start) and the Last-Event-ID it sent", async () => {
    await open(`${prefix}/stream`);
    await until(() => connectionsTo(`${prefix}/stream`).length >= 3 && connectionsTo(`${prefix}/stream`).every((connection) => endOf(connection) !== undefined));
    const [first, ...reconnects] = connectionsTo(`${prefix}/stream`);
    expect(first).toMatchObject({ reconnectDelayMs: undefined, lastEventId: undefined });
    reconnects.forEach((connection, index) => {
      expect(connection.lastEventId).toBe(String(index + 1));
      // The server's retry: is what the client waits; the machine may add to it, never take from it.
      expect(connection.reconnectDelayMs).toBeGreaterThanOrEqual(RETRY_MS - 20);
      expect(connection.reconnectDelayMs).toBeLessThan(OPEN_MS);
    });
  }, 60_000);

  it('flags a single-use token used again and answered 401', async () => {
    await open(`${prefix}/token-stream?token=once-${prefix.slice(1)}`);
    await until(() => connectionsTo(`${prefix}/token-stream`).length >= 2 && endOf(connectionsTo(`${prefix}/token-stream`)[1]!) !== undefined);
    const [first, second] = connectionsTo(`${prefix}/token-stream`);
    expect(first!.tokenReused).toBe(false);
    expect(second!.tokenReused).toBe(true);
    expect(endOf(second!)).toMatchObject({ status: 401, tokenReused: true });
  }, 60_000);
});
