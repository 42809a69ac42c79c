import { errors, getGlobalDispatcher, util, type Dispatcher } from 'undici';
import { systemClock, type Clock } from './clock.js';
import { parseRetryAfterSeconds, timerMs } from './delay.js';
import { SseDecoder, type SseDecoderCallbacks, type SseEvent, type SseNotice } from './sseDecoder.js';

/** How one SSE connection ended. Every kind but `aborted` and `local-limit` is something the target did. */
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
  /** This process ran out of file descriptors (see `LOCAL_LIMIT_CODES`): the tool's limit, not the target's. */
  | { kind: 'local-limit'; code: string }
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
export function openStream(req: StreamRequest, callbacks: StreamCallbacks = {}): Promise<StreamResult> {
  return new Promise((resolve) => new StreamReader(req, callbacks, resolve).start());
}

/** The watchdog never sleeps less than this between checks, even when a deadline is overdue by the clock. */
const MIN_WATCHDOG_MS = 10;

/**
 * One stream as an undici dispatch handler: bytes go from the socket parser straight into the
 * SSE decoder, with no body stream, promise or abort controller in between. State lives in
 * fields and methods rather than closures, and one timer watches every deadline (duration cap,
 * silence, linger after the terminal event), so ten thousand open streams cost ten thousand
 * small objects.
 */
class StreamReader implements Dispatcher.DispatchHandler, SseDecoderCallbacks {
  private readonly clock: Clock;
  private readonly startedAt: number;
  private events = 0;
  private comments = 0;
  private retryMs: number | undefined;
  private terminalEvent: SseEvent | undefined;
  private open: StreamOpen | undefined;
  private lastEventId: string;
  private lastByteAt = 0;
  /** Set by whichever watchdog stops the stream first; the end then reports it. */
  private stopReason: StreamEnd | undefined;
  private abortRequest: ((reason?: Error) => void) | undefined;
  /** What the body is for: events, the excerpt of an error status, or nothing (being dropped). */
  private body: 'events' | 'excerpt' | 'discard' = 'events';
  private excerpt: Buffer[] | undefined;
  private excerptBytes = 0;
  private decoder: SseDecoder | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private finished = false;
  /** The outer signal's abort listener and the watchdog's timer callback, in one closure. */
  private readonly wake = () => this.checkDeadlines();

  constructor(
    private readonly req: StreamRequest,
    private readonly callbacks: StreamCallbacks,
    private readonly resolve: (result: StreamResult) => void,
  ) {
    this.clock = req.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.lastEventId = req.lastEventId ?? '';
  }

  start(): void {
    const { req } = this;
    if (req.signal?.aborted) return this.finish({ kind: 'aborted' });
    req.signal?.addEventListener('abort', this.wake, { once: true });
    this.armWatchdog();
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache', ...req.headers };
    if (this.lastEventId !== '') headers['last-event-id'] = this.lastEventId;
    try {
      (req.dispatcher ?? getGlobalDispatcher()).dispatch(
        { ...requestTarget(req.url), method: 'GET', headers, headersTimeout: req.headersTimeoutMs, bodyTimeout: 0 },
        this,
      );
    } catch (error) {
      this.onError(error as Error);
    }
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.abortRequest = abort;
    // A watchdog or the user may have stopped the stream before undici got this far.
    if (this.stopReason !== undefined || this.req.signal?.aborted) abort();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    const headersAt = this.clock.now();
    const open: StreamOpen = { status: statusCode, headers: flattenHeaders(util.parseHeaders(rawHeaders)), headersMs: headersAt - this.startedAt, t: headersAt };
    this.open = open;
    this.callbacks.onOpen?.(open);
    if (this.finished) return false;
    if (statusCode !== 200) {
      this.body = 'excerpt';
      this.excerpt = [];
      return true;
    }
    const contentType = open.headers['content-type'] ?? '';
    if (!/^text\/event-stream\b/i.test(contentType)) {
      this.drop({ kind: 'wrong-content-type', contentType });
      return false;
    }
    this.lastByteAt = headersAt;
    this.decoder = new SseDecoder(this, this.req.maxLineBytes, this.lastEventId);
    if (this.req.silenceTimeoutMs > 0) this.armWatchdog();
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.body === 'events') {
      this.lastByteAt = this.clock.now();
      this.decoder?.push(chunk, this.lastByteAt);
    } else if (this.excerpt !== undefined) {
      this.excerpt.push(chunk);
      this.excerptBytes += chunk.length;
      if (this.excerptBytes >= BODY_EXCERPT_BYTES) this.endExcerpt();
    }
    return true;
  }

  onComplete(): void {
    if (this.body === 'excerpt') return this.endExcerpt();
    this.decoder?.end(this.clock.now());
    this.finish(this.stopReason ?? (this.terminalEvent ? { kind: 'clean-terminal' } : { kind: 'clean-no-terminal' }));
  }

  onError(error: Error): void {
    if (this.body === 'excerpt' && this.open !== undefined) return this.endExcerpt();
    const outer = this.req.signal;
    this.finish(this.stopReason ?? (this.open === undefined ? classifyRequestError(error, outer) : classifyBodyError(error, outer)));
  }

  /** From the decoder (see `SseDecoderCallbacks`). */
  onEvent(event: SseEvent): void {
    this.events++;
    this.lastEventId = event.lastEventId;
    this.callbacks.onEvent?.(event);
    if (this.terminalEvent === undefined && this.req.isTerminal?.(event)) {
      this.terminalEvent = event;
      if (this.req.closeAfterTerminalMs !== undefined) this.armWatchdog();
    }
  }

  onNotice(notice: SseNotice): void {
    if (notice.kind === 'comment') this.comments++;
    if (notice.kind === 'retry') this.retryMs = notice.ms;
    this.callbacks.onNotice?.(notice);
  }

  onLineTooLong(bytes: number): void {
    this.stop({ kind: 'line-too-long', bytes });
  }

  /**
   * The watchdog's next check: the earliest deadline still pending. The duration cap counts
   * from the request, silence from the last byte, lingering from the terminal event.
   */
  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    const { maxDurationMs, silenceTimeoutMs, closeAfterTerminalMs } = this.req;
    let due = Infinity;
    if (maxDurationMs) due = this.startedAt + maxDurationMs;
    if (silenceTimeoutMs > 0 && this.decoder !== undefined) due = Math.min(due, this.lastByteAt + silenceTimeoutMs);
    if (closeAfterTerminalMs !== undefined && this.terminalEvent !== undefined) due = Math.min(due, this.terminalEvent.t + closeAfterTerminalMs);
    if (due !== Infinity) this.watchdog = setTimeout(this.wake, timerMs(Math.max(MIN_WATCHDOG_MS, due - this.clock.now())));
  }

  /** The user stopped, or a deadline may have passed: stop the stream with the reason, or look again later. */
  private checkDeadlines(): void {
    if (this.finished) return;
    if (this.req.signal?.aborted) return this.abortRequest?.();
    const now = this.clock.now();
    const { maxDurationMs, silenceTimeoutMs, closeAfterTerminalMs } = this.req;
    if (maxDurationMs && now - this.startedAt >= maxDurationMs) return this.stop({ kind: 'max-duration', durationMs: now - this.startedAt });
    if (closeAfterTerminalMs !== undefined && this.terminalEvent !== undefined && now - this.terminalEvent.t >= closeAfterTerminalMs) {
      return this.stop({ kind: 'lingered', afterTerminalMs: now - this.terminalEvent.t });
    }
    if (silenceTimeoutMs > 0 && this.decoder !== undefined && now - this.lastByteAt >= silenceTimeoutMs) {
      return this.stop({ kind: 'silence', silentMs: now - this.lastByteAt });
    }
    this.armWatchdog();
  }

  /** A watchdog stops the stream; its reason is the end, whatever undici reports next. */
  private stop(reason: StreamEnd): void {
    this.stopReason ??= reason;
    this.abortRequest?.();
  }

  /** The status line said enough: keep the first bytes of the body as evidence, then drop it. */
  private endExcerpt(): void {
    const status = this.open?.status ?? 0;
    const bodyExcerpt = Buffer.concat(this.excerpt ?? []).subarray(0, BODY_EXCERPT_BYTES).toString('utf8');
    this.drop({ kind: 'http-error', status, bodyExcerpt, retryAfterSeconds: parseRetryAfterSeconds(this.open?.headers['retry-after']) });
  }

  /** Ends with `end` and lets the connection go: what the body still holds is not wanted. */
  private drop(end: StreamEnd): void {
    this.body = 'discard';
    this.finish(end);
    this.abortRequest?.();
  }

  private finish(end: StreamEnd): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.watchdog);
    this.req.signal?.removeEventListener('abort', this.wake);
    const { open, startedAt, events, comments, lastEventId, terminalEvent, retryMs } = this;
    this.resolve({ end, open, startedAt, endedAt: this.clock.now(), events, comments, lastEventId, terminalEvent, retryMs });
  }
}

/** Where undici's dispatch options send a request for `url`: its origin, and the path with the query. */
export function requestTarget(url: string): { origin: string; path: string } {
  const parsed = new URL(url);
  return { origin: parsed.origin, path: parsed.pathname + parsed.search };
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
  return brokenConnection(code);
}

function classifyBodyError(error: unknown, outer: AbortSignal | undefined): StreamEnd {
  if (outer?.aborted) return { kind: 'aborted' };
  return brokenConnection(errorCode(error));
}

function brokenConnection(code: string): StreamEnd {
  if (LOCAL_LIMIT_CODES.includes(code)) return { kind: 'local-limit', code };
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

export function flattenHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = sharedHeaderValue(Array.isArray(value) ? value.join(', ') : value);
  }
  return flat;
}

/** Values longer than this are rare enough not to be worth sharing. */
const SHARED_VALUE_MAX_LENGTH = 64;
/** The bound on shared values; past it the table starts over (a date header adds one a second). */
const SHARED_VALUES_MAX = 1024;
const sharedValues = new Map<string, string>();

/**
 * One string for each header value seen again: an open stream keeps its response's headers,
 * and across thousands of streams they are the same few values (`text/event-stream`,
 * `no-cache`, `keep-alive`, this second's date).
 */
function sharedHeaderValue(value: string): string {
  if (value.length > SHARED_VALUE_MAX_LENGTH) return value;
  const shared = sharedValues.get(value);
  if (shared !== undefined) return shared;
  if (sharedValues.size >= SHARED_VALUES_MAX) sharedValues.clear();
  sharedValues.set(value, value);
  return value;
}
