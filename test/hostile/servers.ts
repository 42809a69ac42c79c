import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Servers that each do ONE thing wrong, on 127.0.0.1:0. Each serves the generations contract's
 * paths under `/api` (create, status, token, stream) and the generic stream at `/api/generic/stream`,
 * so every command can be pointed at it; only the misbehaviour differs.
 */
export interface HostileServer {
  /** `http(s)://127.0.0.1:PORT/api`, in the scheme a client should (or, for a mismatch, should not) use. */
  readonly baseUrl: string;
  /** The generic stream, for `tail --url` and `check --url`. */
  readonly streamUrl: string;
  /** Resolves at the first request: the client is running (for a Ctrl-C that must land mid-run). */
  readonly firstRequest: Promise<void>;
  close(): Promise<void>;
}

/** Secrets the echoing server hands out or is given; no output may ever carry them. */
export const SECRETS = {
  bearer: 'bearer-s3cr3t-Qx7Zp9Lm2Vw4',
  headerBearer: 'hdr-s3cr3t-Kd8Rt5Yn1Bc6',
  streamToken: 'stream-t0ken-Hj3Wq8Nz5Pe2Xa',
} as const;

/** Every field a stream can carry, each with the control sequences that took over a terminal. */
export const ESCAPE = '\x1b]0;PWNED\x07\x1b[2J';

/** g1 completes, g2 (a prompt with "fail") fails: check's fixtures resolve at once, whatever the misbehaviour. */
const GENERATION = 'g1';
const FAILING = 'g2';
const sse = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

type Handler = (req: IncomingMessage, res: ServerResponse, route: Route) => void;
type Route = 'create' | 'status' | 'token' | 'stream' | 'generic' | 'other';

function routeOf(req: IncomingMessage): Route {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path === '/api/generations/generate' && req.method === 'POST') return 'create';
  if (/^\/api\/generations\/g[12]$/.test(path)) return 'status';
  if (/^\/api\/generations\/generate\/g[12]\/stream-token$/.test(path)) return 'token';
  if (/^\/api\/generations\/generate\/g[12]\/stream/.test(path)) return 'stream';
  if (path === '/api/generic/stream') return 'generic';
  return 'other';
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

/** The contract's happy answers for create and status, which most misbehaviours leave alone. */
function contractShell(res: ServerResponse, route: Route, req?: IncomingMessage): boolean {
  const failing = req?.url?.includes(FAILING) === true;
  if (route === 'create') return json(res, 201, { id: GENERATION, status: 'pending' }), true;
  if (route === 'status') return json(res, 200, { id: failing ? FAILING : GENERATION, status: failing ? 'failed' : 'completed', error_message: failing ? 'boom' : null }), true;
  return false;
}

function goodToken(res: ServerResponse): void {
  json(res, 200, { sse_token: 'tok-abcdefghijklmnop', expires_in: 60, stream_url: `/api/generations/generate/${GENERATION}/stream`, generation_id: GENERATION });
}

async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function httpServer(handler: Handler, scheme: 'http' | 'https' = 'http'): Promise<HostileServer> {
  const server = createHttpServer({ maxHeaderSize: 64 * 1024 }, (req, res) => handler(req, res, routeOf(req)));
  const port = await listen(server);
  return serverAt(server, port, scheme);
}

function serverAt(server: Server | ReturnType<typeof createNetServer>, port: number, scheme: 'http' | 'https', sockets?: Set<Socket>): HostileServer {
  const base = `${scheme}://127.0.0.1:${port}/api`;
  return {
    baseUrl: base,
    streamUrl: `${base}/generic/stream`,
    firstRequest: new Promise<void>((resolve) => server.once('connection', () => resolve())),
    close: () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        for (const socket of sockets ?? []) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A raw TCP server: `answer` gets each connection once the request has started to arrive. */
async function netServer(answer: (socket: Socket) => void): Promise<HostileServer> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', () => answer(socket));
  });
  const port = await listen(server);
  return serverAt(server, port, 'http', sockets);
}

/** A self-signed certificate made now with openssl, so no key material lives in the repository. */
function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'sse-doctor-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
}

/** Writes event after event as fast as the socket takes them, until the client goes. */
function flood(res: ServerResponse): void {
  res.writeHead(200, sse);
  const chunk = Buffer.from(`data: ${'x'.repeat(200)}\n\n`.repeat(200));
  const pump = () => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', pump);
  };
  pump();
}

export const HOSTILE_KINDS = [
  'garbage',
  'tls-to-plain',
  'plain-to-tls',
  'self-signed',
  'redirect-loop',
  'header-flood',
  'mid-headers-close',
  'giant-retry',
  'negative-retry-after',
  'bad-token-body',
  'escapes',
  'echo-secrets',
  'binary-body',
  'binary-stream',
  'event-then-close',
  'flood',
] as const;
export type HostileKind = (typeof HOSTILE_KINDS)[number];

/** Starts the server for one misbehaviour. */
export async function startHostile(kind: HostileKind): Promise<HostileServer> {
  switch (kind) {
    case 'garbage':
      // Not HTTP at all: 64 KiB of binary, then the socket closes.
      return netServer((socket) => socket.end(Buffer.from(Array.from({ length: 65_536 }, (_, index) => (index * 131 + 7) % 256))));
    case 'mid-headers-close':
      return netServer((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/ev'));
    case 'tls-to-plain': {
      // The client speaks TLS to a plain HTTP server.
      const server = await httpServer((req, res, route) => contractShell(res, route, req) || goodToken(res));
      return { ...server, baseUrl: server.baseUrl.replace('http:', 'https:'), streamUrl: server.streamUrl.replace('http:', 'https:') };
    }
    case 'plain-to-tls':
    case 'self-signed': {
      const server = createHttpsServer(selfSignedCertificate(), (req, res) => contractShell(res, routeOf(req), req) || goodToken(res));
      const port = await listen(server);
      return serverAt(server, port, kind === 'self-signed' ? 'https' : 'http');
    }
    case 'redirect-loop':
      return httpServer((req, res) => res.writeHead(302, { location: req.url ?? '/' }).end());
    case 'header-flood':
      return netServer((socket) => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n');
        for (let line = 0; line < 1024; line++) socket.write(`X-Flood-${line}: ${'f'.repeat(1000)}\r\n`);
        socket.end('\r\n');
      });
    case 'giant-retry':
      return httpServer((req, res, route) => {
        if (contractShell(res, route, req)) return;
        if (route === 'token') return json(res, 429, { detail: 'slow down' }, { 'retry-after': '999999999999' });
        res.writeHead(200, sse).end(`retry: 99999999999999\ndata: {"stage":"connected"}\n\n`);
      });
    case 'negative-retry-after':
      return httpServer((req, res, route) => {
        if (contractShell(res, route, req)) return;
        if (route === 'token') return json(res, 429, { detail: 'slow down' }, { 'retry-after': '-5' });
        res.writeHead(429, { 'retry-after': '-5' }).end();
      });
    case 'bad-token-body':
      return httpServer((req, res, route) => {
        if (contractShell(res, route, req)) return;
        if (route === 'token') return json(res, 200, { sse_token: 42, expires_in: 60 });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"sse_token": "unterminated');
      });
    case 'escapes':
      return httpServer((req, res, route) => {
        if (route === 'create') return json(res, 201, { id: GENERATION, status: `pending${ESCAPE}` });
        if (route === 'status') return json(res, 200, { id: GENERATION, status: req.url?.includes(FAILING) ? 'failed' : 'completed', error_message: ESCAPE });
        if (route === 'token') return goodToken(res);
        // Node refuses control characters in a header value, so the escapes go in the body's every field.
        res.writeHead(200, sse);
        const data = JSON.stringify({ generation_id: GENERATION, status: `failed${ESCAPE}`, stage: `error${ESCAPE}`, progress: 1, message: ESCAPE, timestamp: 1 });
        res.end(`: comment${ESCAPE}\n${ESCAPE.replace(/[:\n]/g, '')}x: y\nretry: 1${ESCAPE}\nid: 1${ESCAPE}\nevent: ${ESCAPE}\ndata: ${data}\n\nevent: error\ndata: ${data}\n\n`);
      });
    case 'echo-secrets':
      return httpServer((req, res, route) => {
        const echoed = { authorization: req.headers.authorization ?? null, url: req.url, header: req.headers['x-api-key'] ?? null };
        if (route === 'create') return json(res, 201, { id: GENERATION, status: 'pending', echoed });
        if (route === 'status') return json(res, 200, { id: GENERATION, status: req.url?.includes(FAILING) ? 'failed' : 'completed', error_message: null, echoed });
        if (route === 'token') {
          return json(res, 200, {
            sse_token: SECRETS.streamToken,
            expires_in: 60,
            // The token in the path and in `?sse_token=`, as backends in the wild do.
            stream_url: `/api/generations/generate/${GENERATION}/stream/${SECRETS.streamToken}?sse_token=${SECRETS.streamToken}`,
            generation_id: GENERATION,
            echoed,
          });
        }
        if (route === 'other') return json(res, 404, { detail: `no route ${req.url} for ${req.headers.authorization}` });
        res.writeHead(200, { ...sse, 'x-trace-id': String(req.headers.authorization ?? req.url) });
        const data = JSON.stringify({ generation_id: GENERATION, status: 'failed', stage: 'error', progress: 1, message: `you sent ${JSON.stringify(echoed)}`, timestamp: 1 });
        res.end(`: ${req.url}\nid: ${SECRETS.streamToken}\nevent: error\ndata: ${data}\n\n`);
      });
    case 'binary-body':
    case 'binary-stream':
      // 4.5 MiB of binary, as a file download or under the event stream's own Content-Type.
      return httpServer((req, res, route) => {
        if (contractShell(res, route, req)) return;
        if (route === 'token') return goodToken(res);
        res.writeHead(200, kind === 'binary-body' ? { 'content-type': 'application/octet-stream' } : sse);
        const block = Buffer.from(Array.from({ length: 65_536 }, (_, index) => (index * 197 + 3) % 256));
        for (let sent = 0; sent < 72; sent++) res.write(block);
        res.end();
      });
    case 'event-then-close':
      // One event per connection, then a clean close: a client that resets its count on every event never stops.
      return httpServer((req, res, route) => {
        if (contractShell(res, route, req)) return;
        if (route === 'token') return goodToken(res);
        res.writeHead(200, sse).end(`retry: 0\ndata: ${JSON.stringify({ generation_id: GENERATION, status: 'processing', stage: 'working', progress: 0.5, message: 'x', timestamp: 1 })}\n\n`);
      });
    case 'flood':
      return httpServer((req, res, route) => {
        if (contractShell(res, route, req)) return;
        if (route === 'token') return goodToken(res);
        flood(res);
      });
  }
}
