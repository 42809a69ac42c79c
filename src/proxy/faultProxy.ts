import { request as httpRequest, createServer, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { systemClock, type Clock } from '../engine/clock.js';
import { describeTransportFailure, transportFailureKind } from '../engine/connection.js';
import { redactStreamUrl } from '../engine/secrets.js';
import { EventBoundaries } from './eventBoundaries.js';

/** What the proxy does to the event streams passing through it. Other responses only get the latency. */
export interface FaultRules {
  /** Cut a stream right after this many events have reached the client. */
  readonly cutAfterEvents?: number;
  /** Cut a stream this long after its headers reached the client. */
  readonly cutAfterMs?: number;
  /** Cut with a TCP reset (RST) instead of a clean FIN. */
  readonly reset: boolean;
  /** Delay added to every response's headers and every chunk (ms). */
  readonly latencyMs: number;
  /** Hold stream chunks and flush them together every this many ms (a buffering proxy); 0 = off. */
  readonly bufferMs: number;
  /** Cut only the first this many streams (a one-off network failure); undefined = every stream. */
  readonly cutLimit?: number;
}

/** What happened to one proxied request. */
export type ProxyAction = 'passed' | 'cut-fin' | 'cut-rst' | 'client-closed' | 'target-closed' | 'target-unreachable';

/** A request arriving at the proxy. */
export interface ProxyConnection {
  readonly id: number;
  readonly method: string;
  /** Path and query, with a `token` parameter shortened. */
  readonly path: string;
  /**
   * Time from the end of the same client's previous request to the same path to the start of
   * this one (ms): the client's real reconnect delay. Undefined for its first, or while the
   * previous one is still open.
   */
  readonly reconnectDelayMs: number | undefined;
  /** The `Last-Event-ID` the client sent, if any. */
  readonly lastEventId: string | undefined;
  /** The `token` query parameter was sent before: a single-use token used again. */
  readonly tokenReused: boolean;
  readonly t: number;
}

/** How a proxied request ended. */
export interface ProxyConnectionEnd {
  readonly id: number;
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;
  readonly stream: boolean;
  readonly action: ProxyAction;
  /** Events that reached the client. */
  readonly events: number;
  readonly bytes: number;
  readonly durationMs: number;
  /** The request reused a token sent before (see `ProxyConnection.tokenReused`). */
  readonly tokenReused: boolean;
  readonly t: number;
  /** For `target-unreachable`: why no answer came, in plain words (nothing there, TLS failed, not HTTP…). */
  readonly cause?: string;
}

export interface FaultProxyCallbacks {
  onConnection?(connection: ProxyConnection): void;
  onConnectionEnd?(end: ProxyConnectionEnd): void;
}

export interface FaultProxyOptions {
  /** Where requests go: only its origin is used; paths are forwarded as they arrive. */
  readonly target: string;
  /** 0 = any free port. */
  readonly port?: number;
  readonly rules: FaultRules;
  readonly clock?: Clock;
  /**
   * Sees every request first; returns true when it answered the request itself (nothing is
   * forwarded or reported). Headers it sets on a forwarded response stay, under the target's own.
   */
  readonly intercept?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface FaultProxy {
  /** The target URL with the proxy's origin: what a client uses instead of the target. */
  readonly url: string;
  readonly port: number;
  /** Streams actually cut so far. */
  readonly cuts: () => number;
  close(): Promise<void>;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);
/**
 * Between the last bytes and a reset, a moment for them to reach the client: an RST discards
 * unread data, and one sent right behind a write may reach the client as a plain close (seen in
 * about 1 run in 75 on a loaded machine, where the client then reported no reset at all).
 */
const RESET_SETTLE_MS = 20;

/**
 * A fault-injecting HTTP proxy on 127.0.0.1 in front of a target: it forwards every request as
 * is (Last-Event-ID included, nothing rewritten) and, on event streams, cuts after N events or
 * T ms with a FIN or a reset, adds latency, or buffers. It never prints; it reports each request
 * through callbacks, with the interval since the same client's previous one.
 */
export async function startFaultProxy(options: FaultProxyOptions, callbacks: FaultProxyCallbacks = {}): Promise<FaultProxy> {
  const clock = options.clock ?? systemClock;
  const target = new URL(options.target);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const { rules } = options;
  const clients = new ClientHistory();
  let nextId = 1;
  // Streams chosen for a cut (what cutLimit counts) and streams actually cut (one may end first).
  let cutsPlanned = 0;
  let cuts = 0;

  const server = createServer((req, res) => {
    if (options.intercept?.(req, res)) return;
    const id = nextId++;
    const startedAt = clock.now();
    const path = req.url ?? '/';
    const shownPath = redactStreamUrl(new URL(path, target).href).slice(target.origin.length);
    const clientKey = `${req.socket.remoteAddress ?? ''} ${req.headers['user-agent'] ?? ''} ${path.split('?')[0]}`;
    const reconnectDelayMs = clients.started(clientKey, startedAt);
    const tokenReused = clients.tokenUsed(new URL(path, target).searchParams.get('token'));
    const lastEventId = req.headers['last-event-id'];
    callbacks.onConnection?.({ id, method: req.method ?? 'GET', path: shownPath, reconnectDelayMs, lastEventId: typeof lastEventId === 'string' ? lastEventId : undefined, tokenReused, t: startedAt });

    let status: number | undefined;
    let stream = false;
    let events = 0;
    let bytes = 0;
    let ended = false;
    const finish = (action: ProxyAction, cause?: string) => {
      if (ended) return;
      ended = true;
      clearTimeout(cutTimer);
      clearInterval(flushTimer);
      const endedAt = clock.now();
      clients.ended(clientKey, endedAt);
      callbacks.onConnectionEnd?.({ id, method: req.method ?? 'GET', path: shownPath, status, stream, action, events, bytes, durationMs: endedAt - startedAt, tokenReused, t: endedAt, ...(cause === undefined ? {} : { cause }) });
    };
    let cutTimer: NodeJS.Timeout | undefined;
    let flushTimer: NodeJS.Timeout | undefined;

    const upstream = send(
      { protocol: target.protocol, hostname: target.hostname, port: target.port, method: req.method, path, headers: forwardedHeaders(req.headers, target.host), agent: false },
      (response) => {
        status = response.statusCode ?? 502;
        stream = /^text\/event-stream\b/i.test(String(response.headers['content-type'] ?? ''));
        const cutting = stream && (rules.cutAfterEvents !== undefined || rules.cutAfterMs !== undefined) && (rules.cutLimit === undefined || cutsPlanned < rules.cutLimit);
        if (cutting) cutsPlanned++;
        const boundaries = new EventBoundaries();

        const cut = (pending?: Buffer) => {
          if (ended) return;
          response.destroy();
          cuts++;
          const socket = res.socket as Socket | null;
          finish(rules.reset ? 'cut-rst' : 'cut-fin');
          if (!socket) return;
          if (!rules.reset) {
            // FIN: whatever is written goes out first, then the connection closes cleanly mid-body.
            if (pending) res.write(pending);
            socket.end();
            return;
          }
          const reset = () => setTimeout(() => socket.resetAndDestroy(), RESET_SETTLE_MS);
          if (pending) res.write(pending, reset);
          else reset();
        };
        // The last stage: bytes reach the client here, counted, and cut at an event boundary.
        const deliver = (item: Buffer | 'end') => {
          if (ended) return;
          if (item === 'end') {
            res.end();
            finish('passed');
            return;
          }
          if (cutting && rules.cutAfterEvents !== undefined) {
            for (const offset of boundaries.scan(item)) {
              events++;
              if (events >= rules.cutAfterEvents) {
                bytes += offset;
                return cut(item.subarray(0, offset));
              }
            }
          } else if (stream) {
            events += boundaries.scan(item).length;
          }
          bytes += item.length;
          res.write(item);
        };
        const pending: (Buffer | 'end')[] = [];
        const buffered = (item: Buffer | 'end') => {
          if (!stream || rules.bufferMs <= 0) return deliver(item);
          pending.push(item);
        };
        const delayed = (action: () => void) => (rules.latencyMs > 0 ? setTimeout(action, rules.latencyMs) : action());

        delayed(() => {
          if (ended) return;
          res.writeHead(status ?? 502, forwardedHeaders(response.headers));
          res.flushHeaders();
          if (stream && rules.bufferMs > 0) {
            flushTimer = setInterval(() => {
              const items = pending.splice(0);
              const chunks = items.filter((item): item is Buffer => item !== 'end');
              if (chunks.length > 0) deliver(Buffer.concat(chunks));
              if (items.includes('end')) deliver('end');
            }, rules.bufferMs);
          }
          if (cutting && rules.cutAfterMs !== undefined) cutTimer = setTimeout(() => cut(), rules.cutAfterMs);
          if (cutting && rules.cutAfterEvents === 0) cut();
        });
        response.on('data', (chunk: Buffer) => delayed(() => buffered(chunk)));
        response.on('end', () => delayed(() => buffered('end')));
        response.on('error', () => {
          if (ended) return;
          res.destroy();
          finish('target-closed');
        });
      },
    );
    upstream.on('error', (error) => {
      if (ended) return;
      if (status !== undefined) {
        res.destroy();
        finish('target-closed');
        return;
      }
      const code = (error as NodeJS.ErrnoException).code ?? 'UNKNOWN';
      const cause = describeTransportFailure(transportFailureKind(code, true), code);
      status = 502;
      res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: `sse-doctor proxy: no answer from the target: ${cause}` }));
      finish('target-unreachable', cause);
    });
    res.on('close', () => {
      upstream.destroy();
      finish('client-closed');
    });
    req.pipe(upstream);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}${target.pathname.replace(/\/$/, '')}${target.search}`;
  return {
    url,
    port,
    cuts: () => cuts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Past this many, the oldest clients and tokens are forgotten: a long-running proxy stays small. */
const HISTORY_MAX = 10_000;

/**
 * What the proxy remembers per client (address, user agent and path): how many requests it has
 * open and when its last one ended, for the reconnect delay; and the tokens seen, for reuse.
 */
class ClientHistory {
  private readonly clients = new Map<string, { open: number; lastEndedAt: number | undefined }>();
  private readonly tokens = new Set<string>();

  /** A request starts; returns the delay since the client's previous one ended, if none is still open. */
  started(key: string, at: number): number | undefined {
    let client = this.clients.get(key);
    if (client === undefined) {
      if (this.clients.size >= HISTORY_MAX) this.clients.delete(this.clients.keys().next().value as string);
      client = { open: 0, lastEndedAt: undefined };
      this.clients.set(key, client);
    }
    const delay = client.open === 0 && client.lastEndedAt !== undefined ? at - client.lastEndedAt : undefined;
    client.open++;
    return delay;
  }

  ended(key: string, at: number): void {
    const client = this.clients.get(key);
    if (client === undefined) return;
    client.open = Math.max(0, client.open - 1);
    client.lastEndedAt = at;
  }

  /** Whether `token` was sent before; remembers it. */
  tokenUsed(token: string | null): boolean {
    if (token === null || token === '') return false;
    if (this.tokens.has(token)) return true;
    if (this.tokens.size >= HISTORY_MAX) this.tokens.delete(this.tokens.values().next().value as string);
    this.tokens.add(token);
    return false;
  }
}

function forwardedHeaders(headers: IncomingHttpHeaders, host?: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name.toLowerCase())) out[name] = value;
  }
  if (host !== undefined) out.host = host;
  return out;
}
