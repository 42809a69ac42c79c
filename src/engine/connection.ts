import { errors, request, type Dispatcher } from 'undici';
import { systemClock, type Clock } from './clock.js';
import { SseDecoder, type SseEvent, type SseNotice } from './sseDecoder.js';

/** How one SSE connection ended. Every kind but `aborted` is something the target did. */
export type StreamEnd =
  | { kind: 'clean-terminal' }
  | { kind: 'clean-no-terminal' }
  | { kind: 'lingered'; afterTerminalMs: number }
  | { kind: 'reset'; code: string }
  | { kind: 'abrupt-close'; code: string }
  | { kind: 'silence'; silentMs: number }
  | { kind: 'max-duration'; durationMs: number }
  | { kind: 'http-error'; status: number; bodyExcerpt: string; retryAfterSeconds: number | undefined }
  | { kind: 'wrong-content-type'; contentType: string }
  | { kind: 'line-too-long'; bytes: number }
  | { kind: 'unreachable'; code: string; message: string }
  | { kind: 'timeout'; phase: 'connect' | 'headers'; code: string }
  | { kind: 'aborted' };

export type StreamEndKind = StreamEnd['kind'];

/** What the response said before the first byte of the body. */
export interface StreamOpen {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Time from the request to the response headers (ms). */
  readonly headersMs: number;
  readonly t: number;
}

export interface StreamRequest {
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as `Last-Event-ID` when non-empty; also seeds the decoder's last event ID. */
  readonly lastEventId?: string;
  /** Close the stream when nothing (event or comment) arrives for this long; 0 = never. */
  readonly silenceTimeoutMs: number;
  /** Upper bound on the whole connection; 0 = none. A stream that never ends is cut here. */
  readonly maxDurationMs?: number;
  /** After a terminal event, how long the server has to close before we call it lingering. */
  readonly closeAfterTerminalMs?: number;
  readonly maxLineBytes: number;
  readonly headersTimeoutMs: number;
  /** A dispatcher whose connect timeout is set (see `createDispatcher`). */
  readonly dispatcher?: Dispatcher;
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  /** Decides which events end the stream by the active profile's rules. */
  readonly isTerminal?: (event: SseEvent) => boolean;
}

/** Typed callbacks, eventsource-parser style. The connection never prints. */
export interface StreamCallbacks {
  onOpen?(open: StreamOpen): void;
  onEvent?(event: SseEvent): void;
  onNotice?(notice: SseNotice): void;
}

/** What one connection did, for reporting and for the client policy. */
export interface StreamResult {
  readonly end: StreamEnd;
  readonly open: StreamOpen | undefined;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly events: number;
  readonly comments: number;
  readonly lastEventId: string;
  readonly terminalEvent: SseEvent | undefined;
  /** The server's `retry:` advice, if it gave one. */
  readonly retryMs: number | undefined;
}

const BODY_EXCERPT_BYTES = 500;

/**
 * Opens one SSE stream with undici and follows it to its end, classifying how it ended.
 * Errors of the target become a `StreamEnd`, never an exception.
 */
export async function openStream(req: StreamRequest, callbacks: StreamCallbacks = {}): Promise<StreamResult> {
  const clock = req.clock ?? systemClock;
  const startedAt = clock.now();
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort();
  req.signal?.addEventListener('abort', onOuterAbort, { once: true });

  let events = 0;
  let comments = 0;
  let retryMs: number | undefined;
  let terminalEvent: SseEvent | undefined;
  let open: StreamOpen | undefined;
  let lastEventId = req.lastEventId ?? '';
  // Set by whichever watchdog stops the stream first; the read loop then reports it.
  let stopReason: StreamEnd | undefined;
  const stop = (reason: StreamEnd) => {
    stopReason ??= reason;
    controller.abort();
  };

  const finish = (end: StreamEnd): StreamResult => {
    req.signal?.removeEventListener('abort', onOuterAbort);
    return { end, open, startedAt, endedAt: clock.now(), events, comments, lastEventId, terminalEvent, retryMs };
  };

  const maxDuration =
    req.maxDurationMs && req.maxDurationMs > 0
      ? setTimeout(() => stop({ kind: 'max-duration', durationMs: clock.now() - startedAt }), req.maxDurationMs)
      : undefined;
  try {
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache', ...req.headers };
    if (lastEventId !== '') headers['last-event-id'] = lastEventId;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(req.url, {
        method: 'GET',
        headers,
        signal: controller.signal,
        dispatcher: req.dispatcher,
        headersTimeout: req.headersTimeoutMs,
        bodyTimeout: 0,
      });
    } catch (error) {
      return finish(stopReason ?? classifyRequestError(error, req.signal));
    }

    const headersAt = clock.now();
    open = { status: response.statusCode, headers: flattenHeaders(response.headers), headersMs: headersAt - startedAt, t: headersAt };
    callbacks.onOpen?.(open);

    if (response.statusCode !== 200) {
      const bodyExcerpt = await readExcerpt(response.body);
      return finish({
        kind: 'http-error',
        status: response.statusCode,
        bodyExcerpt,
        retryAfterSeconds: parseRetryAfter(open.headers['retry-after']),
      });
    }
    const contentType = open.headers['content-type'] ?? '';
    if (!/^text\/event-stream\b/i.test(contentType)) {
      discard(response.body);
      return finish({ kind: 'wrong-content-type', contentType });
    }

    let lingerTimer: NodeJS.Timeout | undefined;
    // Read once here: with thousands of streams each event would otherwise reach into two more
    // objects (the request and the callbacks), and memory loads, not work, are the cost per event.
    const { onEvent } = callbacks;
    const { isTerminal } = req;
    const decoder = new SseDecoder(
      {
        onEvent: (event) => {
          events++;
          lastEventId = event.lastEventId;
          onEvent?.(event);
          if (terminalEvent === undefined && isTerminal?.(event)) {
            terminalEvent = event;
            if (req.closeAfterTerminalMs !== undefined) {
              lingerTimer = setTimeout(
                () => stop({ kind: 'lingered', afterTerminalMs: clock.now() - event.t }),
                req.closeAfterTerminalMs,
              );
            }
          }
        },
        onNotice: (notice) => {
          if (notice.kind === 'comment') comments++;
          if (notice.kind === 'retry') retryMs = notice.ms;
          callbacks.onNotice?.(notice);
        },
        onLineTooLong: (bytes) => stop({ kind: 'line-too-long', bytes }),
      },
      req.maxLineBytes,
      lastEventId,
    );

    let lastByteAt = headersAt;
    const silence =
      req.silenceTimeoutMs > 0
        ? setInterval(() => {
            const silentMs = clock.now() - lastByteAt;
            if (silentMs >= req.silenceTimeoutMs) stop({ kind: 'silence', silentMs });
          }, Math.max(10, Math.min(1000, req.silenceTimeoutMs / 4)))
        : undefined;
    try {
      const end = await new Promise<StreamEnd>((resolve) => {
        const body = response.body;
        body.on('data', (chunk: Buffer) => {
          lastByteAt = clock.now();
          decoder.push(chunk, lastByteAt);
        });
        body.once('end', () => {
          decoder.end(clock.now());
          resolve(terminalEvent ? { kind: 'clean-terminal' } : { kind: 'clean-no-terminal' });
        });
        body.on('error', (error) => resolve(classifyBodyError(error, req.signal)));
      });
      return finish(stopReason ?? end);
    } finally {
      clearInterval(silence);
      clearTimeout(lingerTimer);
    }
  } finally {
    clearTimeout(maxDuration);
  }
}

/**
 * Error codes of this machine's own limits: the tool's process ran out of file descriptors.
 * The target did nothing wrong; a load run must say so rather than blame it.
 */
export const LOCAL_LIMIT_CODES: readonly string[] = ['EMFILE', 'ENFILE'];

/** Error codes that mean nothing answered at all: no server there, or no route to it. */
export const UNREACHABLE_CODES: readonly string[] = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'];

function classifyRequestError(error: unknown, outer: AbortSignal | undefined): StreamEnd {
  if (outer?.aborted) return { kind: 'aborted' };
  const code = errorCode(error);
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { kind: 'timeout', phase: 'connect', code };
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return { kind: 'timeout', phase: 'headers', code };
  if (UNREACHABLE_CODES.includes(code)) {
    return { kind: 'unreachable', code, message: (error as Error).message };
  }
  if (code === 'ECONNRESET') return { kind: 'reset', code };
  return { kind: 'abrupt-close', code };
}

function classifyBodyError(error: unknown, outer: AbortSignal | undefined): StreamEnd {
  if (outer?.aborted) return { kind: 'aborted' };
  const code = errorCode(error);
  return code === 'ECONNRESET' ? { kind: 'reset', code } : { kind: 'abrupt-close', code };
}

/** undici wraps socket errors; the useful code may sit on the error or its cause. */
export function errorCode(error: unknown): string {
  let current: unknown = error;
  let fallback = 'UNKNOWN';
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (!code.startsWith('UND_ERR_') || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') return code;
      if (fallback === 'UNKNOWN') fallback = code;
    }
    if (current instanceof errors.SocketError && /reset/i.test(current.message)) return 'ECONNRESET';
    current = current.cause;
  }
  return fallback;
}

async function readExcerpt(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= BODY_EXCERPT_BYTES) break;
    }
  } catch {
    // The body is evidence only; a broken one still leaves the status to report.
  }
  discard(body);
  return Buffer.concat(chunks).subarray(0, BODY_EXCERPT_BYTES).toString('utf8');
}

/** Drops a body we are done with; its late abort error is expected, not a crash. */
export function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

/** `Retry-After` in seconds (delta-seconds or an HTTP date), or undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - nowMs) / 1000));
}

export function flattenHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}
