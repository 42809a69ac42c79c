import { request as httpRequest, createServer, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { systemClock, type Clock } from '../engine/clock.js';
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
  /** Time since the same client's previous request to the same path (ms): its reconnect interval. */
  readonly sinceLastMs: number | undefined;
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
  readonly t: number;
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
  const lastSeen = new Map<string, number>();
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
    const previous = lastSeen.get(clientKey);
    lastSeen.set(clientKey, startedAt);
    callbacks.onConnection?.({ id, method: req.method ?? 'GET', path: shownPath, sinceLastMs: previous === undefined ? undefined : startedAt - previous, t: startedAt });

    let status: number | undefined;
    let stream = false;
    let events = 0;
    let bytes = 0;
    let ended = false;
    const finish = (action: ProxyAction) => {
      if (ended) return;
      ended = true;
      clearTimeout(cutTimer);
      clearInterval(flushTimer);
      callbacks.onConnectionEnd?.({ id, method: req.method ?? 'GET', path: shownPath, status, stream, action, events, bytes, durationMs: clock.now() - startedAt, t: clock.now() });
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
      status = 502;
      res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: `sse-doctor proxy: target unreachable (${code})` }));
      finish('target-unreachable');
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

function forwardedHeaders(headers: IncomingHttpHeaders, host?: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name.toLowerCase())) out[name] = value;
  }
  if (host !== undefined) out.host = host;
  return out;
}
