import { isUtf8 } from 'node:buffer';
import { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, createInflateRaw, constants as zlibConstants } from 'node:zlib';
import { errors, getGlobalDispatcher, util, type Dispatcher } from 'undici';
import { systemClock, type Clock, type TimerId } from './clock.js';
import { parseRetryAfterSeconds } from './delay.js';
import { REDIRECTS_NOT_FOLLOWED, followRedirect, isRedirect } from './redirects.js';
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
  /** `redirect`: for a 3xx with a Location, why it was not followed (see `followRedirect`). */
  | { kind: 'http-error'; status: number; bodyExcerpt: string; retryAfterSeconds: number | undefined; location?: string; redirect?: string }
  /** A Content-Type other than text/event-stream; its body is summed up, never kept. */
  | { kind: 'wrong-content-type'; contentType: string; body: BodySummary }
  /** Sent as text/event-stream, but the body is binary (a NUL byte, or not UTF-8): summed up, never decoded or shown. */
  | { kind: 'binary-body'; body: BodySummary }
  | { kind: 'line-too-long'; bytes: number }
  | { kind: 'unreachable'; code: string; message: string }
  /** The TLS handshake failed: an untrusted certificate, or TLS spoken to a plain port. Retrying cannot fix it. */
  | { kind: 'tls'; code: string; message: string }
  /** What came back is not usable HTTP (garbage, oversized headers). Retrying cannot fix it. */
  | { kind: 'protocol'; code: string; message: string }
  /** The server closed the connection before a complete status line and headers. */
  | { kind: 'closed-before-answer'; code: string; message: string }
  | { kind: 'timeout'; phase: 'connect' | 'headers'; code: string }
  /** This process ran out of file descriptors (see `LOCAL_LIMIT_CODES`): the tool's limit, not the target's. */
  | { kind: 'local-limit'; code: string }
  | { kind: 'aborted' };

export type StreamEndKind = StreamEnd['kind'];

/** What a body that is not an event stream held, in a few numbers: it is read to be measured, never shown. */
export interface BodySummary {
  /** Bytes read (all of them when `whole`). */
  readonly bytes: number;
  readonly binary: boolean;
  /** False when reading stopped at a bound (`MEASURE_MAX_BYTES`, `MEASURE_MAX_MS`) before the body's end. */
  readonly whole: boolean;
}

/** "the body is not text/event-stream: 4.5 MiB of binary": a body summed up in one phrase. */
export function describeBody(body: BodySummary): string {
  return `the body is not text/event-stream: ${body.whole ? '' : 'at least '}${describeBytes(body.bytes)} of ${body.binary ? 'binary' : 'text'}`;
}

function describeBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} byte${bytes === 1 ? '' : 's'}`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** Binary, not text: a NUL byte, or bytes that are not UTF-8 (a character cut at the sample's end aside). */
export function looksBinary(sample: Buffer): boolean {
  if (sample.includes(0)) return true;
  for (let cut = 0; cut < 4 && cut <= sample.length; cut++) if (isUtf8(sample.subarray(0, sample.length - cut))) return false;
  return true;
}

/** Describes a stream end in a few words for logs and reasons. */
export function describeEnd(end: StreamEnd): string {
  switch (end.kind) {
    case 'clean-terminal':
      return 'closed cleanly after a terminal event';
    case 'clean-no-terminal':
      return 'closed cleanly without a terminal event';
    case 'lingered':
      return `still open ${Math.round(end.afterTerminalMs)} ms after the terminal event`;
    case 'silence':
      return `no byte for ${Math.round(end.silentMs)} ms (silence watchdog)`;
    case 'max-duration':
      return `still open after ${Math.round(end.durationMs)} ms (duration bound)`;
    case 'http-error':
      return `HTTP ${end.status}${end.location === undefined ? '' : ` redirecting to ${end.location} (${end.redirect ?? REDIRECTS_NOT_FOLLOWED})`}`;
    case 'wrong-content-type':
      return `wrong content type "${end.contentType || '(none)'}": ${describeBody(end.body)}`;
    case 'binary-body':
      return `${describeBody(end.body)} (sent as text/event-stream)`;
    case 'line-too-long':
      return `an event longer than ${end.bytes} bytes without its end (maxLineBytes)`;
    case 'timeout':
      return `${end.phase === 'connect' ? 'could not connect' : 'no response headers'} in time (${end.code})`;
    case 'aborted':
      return 'stopped by the user';
    case 'unreachable':
    case 'tls':
    case 'protocol':
    case 'closed-before-answer':
    case 'reset':
    case 'abrupt-close':
    case 'local-limit':
      return describeTransportFailure(end.kind, end.code);
  }
}

/**
 * Backpressure from whoever consumes the events (a slow terminal, `| less`): while `ready()` is
 * false the socket is not read, so a fast server fills the kernel's buffers, not our memory.
 */
export interface FlowControl {
  ready(): boolean;
  /** Calls `resume` once, when `ready()` is true again. */
  onReady(resume: () => void): void;
}

/** What the response said before the first byte of the body. */
export interface StreamOpen {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Time from the request to the response headers (ms). */
  readonly headersMs: number;
  readonly t: number;
  /** The body's compression, decoded before parsing as a browser does; undefined when sent as is. */
  readonly contentEncoding: DecodedEncoding | undefined;
}

/** Content codings a browser asks for on an EventSource request, and the ones decoded here. */
export const BROWSER_ACCEPT_ENCODING = 'gzip, deflate, br';
export type DecodedEncoding = 'gzip' | 'deflate' | 'br';

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
  readonly flowControl?: FlowControl;
  /** `--follow-redirects`: follow 3xx answers (see `followRedirect`); otherwise a 3xx ends the stream. */
  readonly followRedirects?: boolean;
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
/** The first bytes of a body looked at to tell binary from text; few, as every open stream holds them until they came. */
const SNIFF_BYTES = 512;
const NOTHING_YET = Buffer.alloc(0);
/** A body that is not an event stream is read this far, or this long, to say how big it is. */
const MEASURE_MAX_BYTES = 64 * 1024 * 1024;
const MEASURE_MAX_MS = 2000;

/**
 * Opens one SSE stream with undici and follows it to its end, classifying how it ended.
 * Errors of the target become a `StreamEnd`, never an exception.
 */
export async function openStream(req: StreamRequest, callbacks: StreamCallbacks = {}): Promise<StreamResult> {
  const visited = [req.url];
  let current = req;
  for (;;) {
    const result = await new Promise<StreamResult>((resolve) => new StreamReader(current, callbacks, resolve).start());
    const { end } = result;
    if (end.kind !== 'http-error' || !isRedirect(end.status) || end.location === undefined) return result;
    const hop = req.followRedirects === true ? followRedirect({ url: current.url, method: 'GET', headers: current.headers ?? {}, hasBody: false }, end.status, end.location, visited) : { stop: REDIRECTS_NOT_FOLLOWED };
    if ('stop' in hop) return { ...result, end: { ...end, redirect: hop.stop } };
    visited.push(hop.next.url);
    current = { ...current, url: hop.next.url, headers: hop.next.headers };
  }
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
  /** What the body is for: events, the excerpt of an error status, its size (not an event stream), or nothing (being dropped). */
  private body: 'events' | 'excerpt' | 'measure' | 'discard' = 'events';
  private excerpt: Buffer[] | undefined;
  private excerptBytes = 0;
  /** Body bytes as they came off the wire. */
  private bodyBytes = 0;
  /** The start of the body, until SNIFF_BYTES were seen: binary or text. */
  private sniffed: Buffer | undefined = NOTHING_YET;
  /** Whether the body's start looked binary (see `looksBinary`). */
  private binary = false;
  /** While measuring: the end it makes of the summary, and the bound on its time. */
  private measuredEnd: ((body: BodySummary) => StreamEnd) | undefined;
  private measureTimer: TimerId | undefined;
  private decoder: SseDecoder | undefined;
  /** Set only for a compressed body: plain streams (nearly all of a load run) pay nothing for it. */
  private decompressor: Transform | undefined;
  private watchdog: TimerId | undefined;
  private finished = false;
  /** undici's resume for a paused body (see `FlowControl`). */
  private resumeBody: (() => void) | undefined;
  private paused = false;
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
    // Asked like a browser, so a compressing proxy answers us as it answers the users.
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache', 'accept-encoding': BROWSER_ACCEPT_ENCODING, ...req.headers };
    if (this.lastEventId !== '') headers['last-event-id'] = this.lastEventId;
    try {
      (req.dispatcher ?? getGlobalDispatcher()).dispatch(
        // The headers timeout is the watchdog's, on the injected clock.
        { ...requestTarget(req.url), method: 'GET', headers, headersTimeout: 0, bodyTimeout: 0 },
        this,
      );
    } catch (error) {
      this.onError(error as Error);
    }
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.abortRequest = abort;
    // A watchdog or the user may have stopped the stream before undici got this far.
    if (this.stopReason !== undefined || this.finished || this.req.signal?.aborted) abort();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.resumeBody = resume;
    const headersAt = this.clock.now();
    const headers = flattenHeaders(util.parseHeaders(rawHeaders));
    const contentEncoding = statusCode === 200 ? decodedEncoding(headers['content-encoding']) : undefined;
    const open: StreamOpen = { status: statusCode, headers, headersMs: headersAt - this.startedAt, t: headersAt, contentEncoding };
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
      this.measure((body) => ({ kind: 'wrong-content-type', contentType, body }));
      return true;
    }
    this.lastByteAt = headersAt;
    this.decoder = new SseDecoder(this, this.req.maxLineBytes, this.lastEventId);
    if (contentEncoding !== undefined) this.startDecompressor(contentEncoding);
    if (this.req.silenceTimeoutMs > 0) this.armWatchdog();
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.bodyBytes += chunk.length;
    if (this.body === 'events') {
      this.lastByteAt = this.clock.now();
      if (this.decompressor !== undefined) this.decompressor.write(chunk);
      else this.pushEvents(chunk, this.lastByteAt);
      const flow = this.req.flowControl;
      if (flow !== undefined && !flow.ready()) {
        this.paused = true;
        flow.onReady(() => {
          // The wait was ours, not the server's: silence counts from now.
          this.paused = false;
          this.lastByteAt = this.clock.now();
          this.resumeBody?.();
        });
        return false;
      }
    } else if (this.body === 'measure') {
      const sample = this.sniff(chunk);
      if (sample.length > 0) this.binary = looksBinary(sample);
      if (this.bodyBytes >= MEASURE_MAX_BYTES) this.endMeasure(false);
    } else if (this.excerpt !== undefined) {
      this.excerpt.push(chunk);
      this.excerptBytes += chunk.length;
      if (this.excerptBytes >= BODY_EXCERPT_BYTES) this.endExcerpt();
    }
    return true;
  }

  /** Event bytes (decompressed, if they were not) to the decoder, unless the body's start shows it is binary. */
  private pushEvents(chunk: Buffer, t: number): void {
    if (this.sniffed !== undefined && looksBinary(this.sniff(chunk))) {
      this.binary = true;
      return this.measure((body) => ({ kind: 'binary-body', body }));
    }
    this.decoder?.push(chunk, t);
  }

  /** Adds the chunk to the body's start while it is short of SNIFF_BYTES; returns the start so far. */
  private sniff(chunk: Buffer): Buffer {
    if (this.sniffed === undefined) return NOTHING_YET;
    const sample = Buffer.concat([this.sniffed, chunk.subarray(0, SNIFF_BYTES - this.sniffed.length)]);
    this.sniffed = sample.length >= SNIFF_BYTES ? undefined : sample;
    return sample;
  }

  /** The body is not events: read on only to count its bytes (bounded in size and time), then end with `end`. */
  private measure(end: (body: BodySummary) => StreamEnd): void {
    this.body = 'measure';
    this.measuredEnd = end;
    this.measureTimer = this.clock.schedule(MEASURE_MAX_MS, () => this.endMeasure(false));
  }

  private endMeasure(whole: boolean): void {
    if (this.measuredEnd === undefined) return;
    const end = this.measuredEnd({ bytes: this.bodyBytes, binary: this.binary, whole });
    this.measuredEnd = undefined;
    this.drop(end);
  }

  onComplete(): void {
    if (this.body === 'excerpt') return this.endExcerpt();
    if (this.body === 'measure') return this.endMeasure(true);
    // The decompressor may still hold the last events: the stream ends once it has let them out.
    if (this.decompressor !== undefined) return void this.decompressor.end();
    this.completeEvents();
  }

  private completeEvents(): void {
    this.decoder?.end(this.clock.now());
    this.finish(this.stopReason ?? (this.terminalEvent ? { kind: 'clean-terminal' } : { kind: 'clean-no-terminal' }));
  }

  onError(error: Error): void {
    if (this.body === 'excerpt' && this.open !== undefined) return this.endExcerpt();
    if (this.body === 'measure') return this.endMeasure(false);
    this.decompressor?.destroy();
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
   * The watchdog's next check: the earliest deadline still pending. The duration cap and the
   * headers timeout count from the request, silence from the last byte, lingering from the
   * terminal event.
   */
  private armWatchdog(): void {
    this.clock.cancel(this.watchdog);
    const { maxDurationMs, silenceTimeoutMs, closeAfterTerminalMs, headersTimeoutMs } = this.req;
    let due = Infinity;
    if (maxDurationMs) due = this.startedAt + maxDurationMs;
    if (headersTimeoutMs > 0 && this.open === undefined) due = Math.min(due, this.startedAt + headersTimeoutMs);
    if (silenceTimeoutMs > 0 && this.decoder !== undefined) due = Math.min(due, this.lastByteAt + silenceTimeoutMs);
    if (closeAfterTerminalMs !== undefined && this.terminalEvent !== undefined) due = Math.min(due, this.terminalEvent.t + closeAfterTerminalMs);
    if (due !== Infinity) this.watchdog = this.clock.schedule(Math.max(MIN_WATCHDOG_MS, due - this.clock.now()), this.wake);
  }

  /** The user stopped, or a deadline may have passed: stop the stream with the reason, or look again later. */
  private checkDeadlines(): void {
    if (this.finished) return;
    // With the signal's own reason, which every stream it stops shares: when a load run of
    // thousands of streams ends at once, undici then makes no error of its own for each.
    if (this.req.signal?.aborted) return this.abortRequest?.(this.req.signal.reason as Error);
    const now = this.clock.now();
    const { maxDurationMs, silenceTimeoutMs, closeAfterTerminalMs, headersTimeoutMs } = this.req;
    if (headersTimeoutMs > 0 && this.open === undefined && now - this.startedAt >= headersTimeoutMs) {
      return this.drop({ kind: 'timeout', phase: 'headers', code: 'UND_ERR_HEADERS_TIMEOUT' });
    }
    if (maxDurationMs && now - this.startedAt >= maxDurationMs) return this.stop({ kind: 'max-duration', durationMs: now - this.startedAt });
    if (closeAfterTerminalMs !== undefined && this.terminalEvent !== undefined && now - this.terminalEvent.t >= closeAfterTerminalMs) {
      return this.stop({ kind: 'lingered', afterTerminalMs: now - this.terminalEvent.t });
    }
    if (silenceTimeoutMs > 0 && this.decoder !== undefined && !this.paused && now - this.lastByteAt >= silenceTimeoutMs) {
      return this.stop({ kind: 'silence', silentMs: now - this.lastByteAt });
    }
    this.armWatchdog();
  }

  /** A watchdog stops the stream; its reason is the end, whatever undici reports next. */
  private stop(reason: StreamEnd): void {
    this.stopReason ??= reason;
    this.abortRequest?.();
  }

  /**
   * Decoded as it arrives: each flushed block of a compressing proxy yields its events at once.
   * A sync flush at the end lets a stream cut mid-block still give what it decoded.
   */
  private startDecompressor(encoding: DecodedEncoding): void {
    const flush = { flush: zlibConstants.Z_SYNC_FLUSH, finishFlush: zlibConstants.Z_SYNC_FLUSH };
    let decompressor: Transform;
    if (encoding === 'br') decompressor = createBrotliDecompress({ flush: zlibConstants.BROTLI_OPERATION_FLUSH, finishFlush: zlibConstants.BROTLI_OPERATION_FLUSH });
    else if (encoding === 'gzip') decompressor = createGunzip(flush);
    else decompressor = new DeflateDecompressor(flush);
    decompressor.on('data', (chunk: Buffer) => {
      if (this.body === 'events') this.pushEvents(chunk, this.clock.now());
    });
    decompressor.on('end', () => this.completeEvents());
    decompressor.on('error', (error: NodeJS.ErrnoException) => this.drop({ kind: 'abrupt-close', code: error.code ?? 'Z_DATA_ERROR' }));
    this.decompressor = decompressor;
  }

  /** The status line said enough: keep the first bytes of the body as evidence, then drop it. */
  private endExcerpt(): void {
    const status = this.open?.status ?? 0;
    const bodyExcerpt = Buffer.concat(this.excerpt ?? []).subarray(0, BODY_EXCERPT_BYTES).toString('utf8');
    const location = this.open?.headers.location;
    this.drop({ kind: 'http-error', status, bodyExcerpt, retryAfterSeconds: parseRetryAfterSeconds(this.open?.headers['retry-after']), ...(location === undefined ? {} : { location }) });
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
    this.clock.cancel(this.watchdog);
    this.clock.cancel(this.measureTimer);
    this.req.signal?.removeEventListener('abort', this.wake);
    const { open, startedAt, events, comments, lastEventId, terminalEvent, retryMs } = this;
    this.resolve({ end, open, startedAt, endedAt: this.clock.now(), events, comments, lastEventId, terminalEvent, retryMs });
  }
}

/** The coding to undo for a `Content-Encoding` value, or undefined for identity (or one we cannot decode). */
function decodedEncoding(value: string | undefined): DecodedEncoding | undefined {
  const coding = value?.trim().toLowerCase();
  if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
  if (coding === 'deflate' || coding === 'br') return coding;
  return undefined;
}

/**
 * HTTP's `deflate` should be zlib-wrapped (RFC 9110 §8.4.1.2), but some servers send raw
 * deflate; browsers accept both, so the first byte decides, as theirs does.
 */
class DeflateDecompressor extends Transform {
  private inner: Transform | undefined;

  constructor(private readonly options: { flush: number; finishFlush: number }) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.inner === undefined) {
      // A zlib header's low nibble is 8 (the deflate method).
      this.inner = (chunk[0]! & 0x0f) === 8 ? createInflate(this.options) : createInflateRaw(this.options);
      this.inner.on('data', (data: Buffer) => this.push(data));
      this.inner.on('error', (error) => this.destroy(error));
    }
    this.inner.write(chunk, () => done());
  }

  override _flush(done: (error?: Error | null) => void): void {
    if (this.inner === undefined) return done();
    this.inner.once('end', () => done());
    this.inner.end();
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

/** How a request failed, in the words both streams and JSON requests report. */
export type TransportFailureKind = 'unreachable' | 'timeout' | 'tls' | 'protocol' | 'closed-before-answer' | 'reset' | 'abrupt-close' | 'local-limit';

/** Failures the target must fix (or the user's URL or trust store): no retry helps, and a run that never got past one cannot judge anything. */
export const FATAL_TRANSPORT_KINDS: readonly TransportFailureKind[] = ['unreachable', 'tls', 'protocol'];

/** Certificate problems: the server's certificate chain is not one this machine trusts. */
const CERTIFICATE_CODES = /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_[A-Z_]+|ERR_TLS_CERT_ALTNAME_INVALID)$/;
const TLS_CODES = /^(ERR_SSL_|ERR_TLS_|EPROTO$)/;
const PROTOCOL_CODES = /^(HPE_|UND_ERR_HEADERS_OVERFLOW$|UND_ERR_RES_EXCEEDED_MAX_SIZE$)/;

/**
 * An error code as a failure kind. `beforeAnswer`: no status line and headers had arrived, so a
 * plain close means the server hung up mid-headers (or speaks TLS on that port), not mid-body.
 */
export function transportFailureKind(code: string, beforeAnswer: boolean): TransportFailureKind {
  if (UNREACHABLE_CODES.includes(code)) return 'unreachable';
  if (LOCAL_LIMIT_CODES.includes(code)) return 'local-limit';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  if (CERTIFICATE_CODES.test(code) || TLS_CODES.test(code)) return 'tls';
  if (PROTOCOL_CODES.test(code)) return 'protocol';
  if (code === 'ECONNRESET') return 'reset';
  // UND_ERR_ABORTED is our own abort (Ctrl-C, a bound): never a sign of what the server does.
  return beforeAnswer && code !== 'UND_ERR_ABORTED' ? 'closed-before-answer' : 'abrupt-close';
}

/** One line in plain words: what failed, why it matters, and what to do about it. */
export function describeTransportFailure(kind: TransportFailureKind, code: string): string {
  const known = code === 'UNKNOWN' ? '' : ` (${code})`;
  switch (kind) {
    case 'unreachable':
      return `nothing answered${known}: is the server running and the URL right?`;
    case 'timeout':
      return `no answer in time${known}`;
    case 'tls':
      // Without its code (a load run's tally), the kind alone cannot tell the two causes apart.
      if (code === 'UNKNOWN') return 'TLS failed: an untrusted certificate (NODE_EXTRA_CA_CERTS, or --insecure) or a plain port spoken to in TLS (use http://)';
      return CERTIFICATE_CODES.test(code)
        ? `TLS failed: the server's certificate is not trusted here${known}; trust its CA with NODE_EXTRA_CA_CERTS=/path/to/ca.pem, or skip verification with --insecure (never in production)`
        : `TLS failed: the server does not speak TLS on this port${known}; use http:// for a plain port, or the port that serves https`;
    case 'protocol':
      return code === 'UND_ERR_HEADERS_OVERFLOW' || code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE' || code === 'HPE_HEADER_OVERFLOW'
        ? `the response headers are larger than any HTTP client accepts${known}: a header loop or a misconfigured proxy`
        : `the answer is not HTTP${known}: something other than an HTTP server listens on this port`;
    case 'closed-before-answer':
      return `the server closed the connection before a complete HTTP answer${known}; if this port serves https, use https://`;
    case 'reset':
      return `the connection was reset${known}`;
    case 'abrupt-close':
      return `the server closed the connection in the middle of the answer${known}`;
    case 'local-limit':
      return `this machine is out of file descriptors${known}: the tool's limit, not the target's`;
  }
}

function classifyRequestError(error: unknown, outer: AbortSignal | undefined): StreamEnd {
  if (outer?.aborted) return { kind: 'aborted' };
  return endOf(error, true);
}

function classifyBodyError(error: unknown, outer: AbortSignal | undefined): StreamEnd {
  if (outer?.aborted) return { kind: 'aborted' };
  return endOf(error, false);
}

function endOf(error: unknown, beforeAnswer: boolean): StreamEnd {
  const code = errorCode(error);
  const kind = transportFailureKind(code, beforeAnswer);
  const message = (error as Error).message;
  switch (kind) {
    case 'timeout':
      return { kind: 'timeout', phase: code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect' : 'headers', code };
    case 'unreachable':
    case 'tls':
    case 'protocol':
    case 'closed-before-answer':
      return { kind, code, message };
    case 'reset':
    case 'abrupt-close':
    case 'local-limit':
      return { kind, code };
  }
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
    // undici's parser names what it expected, not a code, when the bytes are not HTTP at all.
    if (current instanceof errors.HTTPParserError || (current as Error).name === 'HTTPParserError') return 'HPE_INVALID_RESPONSE';
    current = current.cause;
  }
  return fallback;
}

export function flattenHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}
