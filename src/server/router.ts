import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveGenerationStream, type GenerationStreamContext } from './generationStream.js';
import { serveGenericStream } from './genericStream.js';
import { createGeneration, generationStatus, issueStreamToken, type GenerationRoutesContext } from './generationRoutes.js';
import { sendDetail } from './jsonHttp.js';
import { SharedStateUnavailable } from './sharedState.js';

/** Everything the routes share: one instance per server. */
export interface ServerContext extends GenerationRoutesContext, GenerationStreamContext {
  readonly log: ((line: string) => void) | undefined;
  /** The `X-Served-By` header of every response, when the server is one of several workers. */
  readonly servedBy: string | undefined;
}

type Handler = (context: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, id: string) => void | Promise<void>;

interface Route {
  readonly method: 'GET' | 'POST';
  /** Matched against the path; its one capture group, if any, is the generation id. */
  readonly pattern: RegExp;
  readonly handle: Handler;
}

const ROUTES: readonly Route[] = [
  { method: 'POST', pattern: /^\/api\/generations\/generate$/, handle: (context, req, res) => createGeneration(context, req, res) },
  {
    method: 'POST',
    pattern: /^\/api\/generations\/generate\/([^/]+)\/stream-token$/,
    handle: (context, req, res, _url, id) => issueStreamToken(context, req, res, id),
  },
  { method: 'GET', pattern: /^\/api\/generations\/generate\/([^/]+)\/stream$/, handle: serveGenerationStream },
  { method: 'GET', pattern: /^\/api\/generic\/stream$/, handle: (context, req, res, url) => serveGenericStream(context, req, res, url) },
  { method: 'GET', pattern: /^\/api\/generations\/([^/]+)$/, handle: (context, req, res, _url, id) => generationStatus(context, req, res, id) },
];

/** The server's request listener: routing, FastAPI-style 404/405, the optional request log. */
export function createRequestListener(context: ServerContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://reference.invalid');
    if (context.log) logWhenClosed(context.log, req, res, url);
    if (context.servedBy !== undefined) res.setHeader('X-Served-By', context.servedBy);
    allowCrossOrigin(req, res);
    const matches = ROUTES.map((route) => ({ route, match: route.pattern.exec(url.pathname) })).filter(({ match }) => match !== null);
    if (req.method === 'OPTIONS' && matches.length > 0) {
      answerPreflight(res, matches.map(({ route }) => route.method));
      return;
    }
    const chosen = matches.find(({ route }) => route.method === req.method);
    if (!chosen) {
      if (matches.length > 0) sendDetail(res, 405, 'Method Not Allowed', { Allow: matches.map(({ route }) => route.method).join(', ') });
      else sendDetail(res, 404, 'Not Found');
      return;
    }
    const id = decodePathSegment(chosen.match?.[1] ?? '');
    if (id === undefined) {
      sendDetail(res, 404, 'Not Found');
      return;
    }
    try {
      const pending = chosen.route.handle(context, req, res, url, id);
      if (pending) pending.catch((error: unknown) => failed(res, error));
    } catch (error) {
      failed(res, error);
    }
  };
}

/**
 * Every response header the tool reads besides the CORS-safelisted ones: a page on another origin
 * (a frontend pointed at `serve`) sees them only when named here.
 */
const EXPOSED_HEADERS = [
  'X-Trace-ID',
  'Retry-After',
  'X-Stream-Max-Seconds',
  'X-Heartbeat-Interval',
  'X-Served-By',
  'X-Accel-Buffering',
  'WWW-Authenticate',
  'Content-Encoding',
].join(', ');

/** What a page's fetch and EventSource send besides the safelisted headers. */
const ALLOWED_REQUEST_HEADERS = 'Authorization, Content-Type, Last-Event-ID, Cache-Control';
/** Browsers cache a preflight at most this long (Chromium caps it at 2 hours). */
const PREFLIGHT_MAX_AGE_SECONDS = '600';

/**
 * Any origin may call the server: it is a stand-in backend for frontends under development, and
 * its credentials are bearer headers, never cookies, so echoing the origin exposes nothing.
 */
function allowCrossOrigin(req: IncomingMessage, res: ServerResponse): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Vary', 'Origin');
  res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
}

function answerPreflight(res: ServerResponse, methods: readonly string[]): void {
  res.writeHead(204, {
    'Access-Control-Allow-Methods': [...new Set(methods)].join(', '),
    'Access-Control-Allow-Headers': ALLOWED_REQUEST_HEADERS,
    'Access-Control-Max-Age': PREFLIGHT_MAX_AGE_SECONDS,
  });
  res.end();
}

function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** A bug in a route, or a shared state out of reach, must cost one request, never the server (it is every test's target). */
function failed(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy(error instanceof Error ? error : undefined);
    return;
  }
  if (error instanceof SharedStateUnavailable) sendDetail(res, 503, 'Service Unavailable');
  else sendDetail(res, 500, 'Internal Server Error');
}

/** One line per request, written when its response is over (for a stream: when it closed). */
function logWhenClosed(log: (line: string) => void, req: IncomingMessage, res: ServerResponse, url: URL): void {
  const startedAt = performance.now();
  res.once('close', () => {
    const ms = Math.round(performance.now() - startedAt);
    const ending = res.writableFinished ? '' : ' (connection closed before the response ended)';
    // The pathname only: the query of a stream URL holds its token.
    log(`${req.method ?? '?'} ${url.pathname} ${res.statusCode} ${ms}ms${ending}`);
  });
}
