import type { TargetOptions } from './target.js';
import { Agent, errors, getGlobalDispatcher, util, type Dispatcher } from 'undici';
import { systemClock, type Clock, type TimerId } from './clock.js';
import { errorCode, flattenHeaders, requestTarget, transportFailureKind, type TransportFailureKind } from './connection.js';
import { parseRetryAfterSeconds } from './delay.js';
import { REDIRECTS_NOT_FOLLOWED, followRedirect, isRedirect } from './redirects.js';

/** One agent per run: it carries the connect timeout (and, with `--insecure`, no certificate check) every request and stream shares. */
export function createDispatcher(target: Pick<TargetOptions, 'connectTimeoutMs' | 'insecure'>): Dispatcher {
  return new Agent({ connect: { timeout: target.connectTimeoutMs, rejectUnauthorized: !target.insecure }, keepAliveTimeout: 10_000 });
}

/** An HTTP exchange as evidence: status, headers, the body (parsed when JSON), timing. */
export interface HttpExchange {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly bodyText: string;
  readonly json: unknown;
  readonly latencyMs: number;
  readonly retryAfterSeconds: number | undefined;
  /** A 3xx with a Location that was not followed: why (see `followRedirect`). */
  readonly redirect?: string;
}

/** The target could not be reached at all: a value, so callers decide what it means for them. */
export interface HttpFailure {
  /** `local-limit`: this process is out of file descriptors (the tool's limit, see `LOCAL_LIMIT_CODES`). */
  readonly failure: TransportFailureKind;
  readonly code: string;
  readonly message: string;
  readonly latencyMs: number;
}

export interface JsonRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly dispatcher?: Dispatcher;
  /** Bound on the wait for the headers, then on each wait for more of the body; 0 = none. */
  readonly headersTimeoutMs: number;
  readonly signal?: AbortSignal;
  /** The clock the timeout and the latency are measured on. */
  readonly clock?: Clock;
  /** `--follow-redirects`: follow 3xx answers (see `followRedirect`); otherwise a 3xx is the answer. */
  readonly followRedirects?: boolean;
}

const MAX_BODY_BYTES = 64 * 1024;

/**
 * One JSON request and its answer, or the failure to get one; never throws. The body is read up
 * to 64 KiB; past that, what was read is the answer.
 */
export async function sendJson(req: JsonRequest): Promise<HttpExchange | HttpFailure> {
  const visited = [req.url];
  let current = req;
  for (;;) {
    const result = await new Promise<HttpExchange | HttpFailure>((resolve) => new JsonExchange(current, resolve).start());
    if (isHttpFailure(result) || !isRedirect(result.status) || result.headers.location === undefined) return result;
    if (req.followRedirects !== true) return { ...result, redirect: REDIRECTS_NOT_FOLLOWED };
    const hop = followRedirect({ ...current, hasBody: current.body !== undefined }, result.status, result.headers.location, visited);
    if ('stop' in hop) return { ...result, redirect: hop.stop };
    const { url, method, headers, hasBody } = hop.next;
    visited.push(url);
    current = { ...current, url, method, headers, body: hasBody ? current.body : undefined };
  }
}

/**
 * A JSON request as an undici dispatch handler, like the stream reader: the body goes from the
 * HTTP parser into a list of chunks, with no body stream or iterator in between. A load run makes
 * two of these before each stream; without the body stream 10,000 flows open about 10% sooner.
 */
class JsonExchange implements Dispatcher.DispatchHandler {
  private readonly clock: Clock;
  private readonly started: number;
  /** When the headers or the last body chunk came: the timeout counts from here. */
  private lastAnswerAt: number;
  private timer: TimerId | undefined;
  private readonly onTimer = () => this.checkTimeout();
  private status = 0;
  private headers: Record<string, string> = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private abortRequest: ((reason?: Error) => void) | undefined;
  private finished = false;
  private readonly onOuterAbort = () => this.abortRequest?.();

  constructor(
    private readonly req: JsonRequest,
    private readonly resolve: (result: HttpExchange | HttpFailure) => void,
  ) {
    this.clock = req.clock ?? systemClock;
    this.started = this.clock.now();
    this.lastAnswerAt = this.started;
  }

  start(): void {
    const { req } = this;
    if (req.signal?.aborted) return this.onError(new errors.RequestAbortedError());
    req.signal?.addEventListener('abort', this.onOuterAbort, { once: true });
    if (req.headersTimeoutMs > 0) this.timer = this.clock.schedule(req.headersTimeoutMs, this.onTimer);
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    try {
      (req.dispatcher ?? getGlobalDispatcher()).dispatch(
        {
          ...requestTarget(req.url),
          method: req.method,
          headers,
          body: req.body === undefined ? undefined : JSON.stringify(req.body),
          // The timeouts are ours, on the injected clock (see `checkTimeout`).
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        this,
      );
    } catch (error) {
      this.onError(error as Error);
    }
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.abortRequest = abort;
    // The timeout or the user may have ended the exchange before undici got this far.
    if (this.finished || this.req.signal?.aborted) abort();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.lastAnswerAt = this.clock.now();
    this.status = statusCode;
    this.headers = flattenHeaders(util.parseHeaders(rawHeaders));
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.lastAnswerAt = this.clock.now();
    this.size += chunk.length;
    if (this.size > MAX_BODY_BYTES) {
      this.answer();
      this.abortRequest?.();
      return false;
    }
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    this.answer();
  }

  onError(error: Error): void {
    if (this.finished) return;
    const code = errorCode(error);
    this.finish({ failure: transportFailureKind(code, this.status === 0), code, message: error.message, latencyMs: this.clock.now() - this.started });
  }

  /**
   * The timer's check: past the bound since the request (no headers yet) or since the last body
   * chunk, the exchange ends as undici's own timeouts would end it; otherwise look again later.
   */
  private checkTimeout(): void {
    if (this.finished) return;
    const waitedMs = this.clock.now() - this.lastAnswerAt;
    const timeoutMs = this.req.headersTimeoutMs;
    if (waitedMs < timeoutMs) {
      this.timer = this.clock.schedule(timeoutMs - waitedMs, this.onTimer);
      return;
    }
    const code = this.status === 0 ? 'UND_ERR_HEADERS_TIMEOUT' : 'UND_ERR_BODY_TIMEOUT';
    this.finish({ failure: 'timeout', code, message: `no ${this.status === 0 ? 'headers' : 'more of the body'} in ${timeoutMs} ms`, latencyMs: this.clock.now() - this.started });
    this.abortRequest?.();
  }

  private answer(): void {
    if (this.finished) return;
    const bodyText = Buffer.concat(this.chunks).toString('utf8');
    const { status, headers } = this;
    this.finish({ status, headers, bodyText, json: parseJsonOrUndefined(bodyText), latencyMs: this.clock.now() - this.started, retryAfterSeconds: parseRetryAfterSeconds(headers['retry-after']) });
  }

  private finish(result: HttpExchange | HttpFailure): void {
    this.finished = true;
    this.clock.cancel(this.timer);
    this.req.signal?.removeEventListener('abort', this.onOuterAbort);
    this.resolve(result);
  }
}

export function isHttpFailure(result: HttpExchange | HttpFailure): result is HttpFailure {
  return 'failure' in result;
}

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
