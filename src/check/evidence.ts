import { describeBody, describeEnd } from '../engine/connection.js';
import { detailOf } from '../engine/generationsApi.js';
import type { HttpExchange } from '../engine/http.js';
import type { TokenResult } from '../engine/generationsApi.js';
import type { Available } from './context.js';
import type { RecordedStream } from './recording.js';
import type { Evidence } from './types.js';

const round = (ms: number) => Math.round(ms * 10) / 10;

/** An HTTP answer as evidence: status, detail, latency, Retry-After, the trace id if any. Never a token. */
export function exchangeEvidence(exchange: HttpExchange): Evidence {
  return {
    status: exchange.status,
    detail: exchange.status === 200 ? undefined : detailOf(exchange),
    latencyMs: round(exchange.latencyMs),
    retryAfter: exchange.retryAfterSeconds,
    traceId: exchange.headers['x-trace-id'],
  };
}

/** A token answer as evidence, or the transport failure that replaced it. */
export function tokenEvidence(result: TokenResult): Evidence {
  if ('failure' in result) return { failure: result.failure.failure, code: result.failure.code };
  return exchangeEvidence(result.exchange);
}

/** The HTTP status of a token answer, or undefined when the server did not answer. */
export function tokenStatus(result: TokenResult): number | undefined {
  return 'failure' in result ? undefined : result.exchange.status;
}

/** A recorded connection as evidence: URL (token shortened), status, trace id, how and when it ended. */
export function streamEvidence(recording: RecordedStream): Evidence {
  const { result } = recording;
  return {
    url: recording.url,
    status: result.open?.status,
    traceId: result.open?.headers['x-trace-id'],
    headersMs: result.open ? round(result.open.headersMs) : undefined,
    events: recording.events.length,
    comments: recording.comments.length,
    end: result.end.kind,
    durationMs: round(result.endedAt - result.startedAt),
  };
}

/**
 * The recording when it is a readable event stream; otherwise why not, so observing rules
 * skip instead of blaming their own rule for what stream.headers or the token rules report.
 */
export function readableStream(recording: RecordedStream): Available<RecordedStream> {
  const { open, end } = recording.result;
  if (open === undefined) return { ok: false, reason: `the stream did not open: ${describeEnd(end)}` };
  if (end.kind === 'http-error') return { ok: false, reason: `the stream answered HTTP ${end.status} instead of a stream` };
  if (end.kind === 'wrong-content-type' || end.kind === 'binary-body') return { ok: false, reason: `${describeBody(end.body)} (see stream.headers)` };
  return { ok: true, value: recording };
}

/** Server software that sits in front of backends; a `Server` header naming one means a proxy answered. */
const PROXY_SERVERS = /\b(nginx|openresty|envoy|haproxy|traefik|caddy|varnish|cloudflare|cloudfront|akamai|apache|squid|kong)\b/i;

/**
 * The proxy a response passed through, as its headers show it (`Server: nginx/1.22`, a `Via`),
 * or undefined when nothing shows one. A proxy that hides itself reads as the backend.
 */
export function proxyInPath(headers: Readonly<Record<string, string>>): string | undefined {
  const server = PROXY_SERVERS.exec(headers.server ?? '')?.[1]?.toLowerCase();
  if (server !== undefined) return server;
  const via = headers.via?.trim();
  return via ? `a proxy (Via: ${via.slice(0, 60)})` : undefined;
}

/** Milliseconds as seconds for messages: `1.2 s`. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1).replace(/\.?0+$/, '')} s`;
}
