import type { Dispatcher } from 'undici';
import type { TargetOptions } from './target.js';
import type { Profile } from './target.js';
import { systemClock, type Clock } from './clock.js';
import type { AttemptOutcome, ClientModel, PolicyDecision } from './clientPolicy.js';
import { FATAL_TRANSPORT_KINDS, describeTransportFailure, openStream, type FlowControl, type TransportFailureKind, type StreamCallbacks, type StreamEnd, type StreamOpen, type StreamRequest, type StreamResult } from './connection.js';
import { terminalEventTest } from './contractEvents.js';
import type { GenerationsApi, TokenResult, TokenSource } from './generationsApi.js';
import type { SseEvent, SseNotice } from './sseDecoder.js';
import { StreamProgress } from './streamProgress.js';

/** Where a session gets its stream URL: the token endpoint (generations) or a fixed URL (generic). */
export type StreamSource =
  | { readonly kind: 'token'; readonly api: TokenSource; readonly generationId: string }
  | { readonly kind: 'url'; readonly url: string };

export interface SessionOptions {
  readonly source: StreamSource;
  readonly model: ClientModel;
  readonly profile: Profile;
  /** Which events end the stream; by default built from `profile` for this session (a load run builds it once for all of its sessions). */
  readonly isTerminal?: (event: SseEvent) => boolean;
  /** Extra headers on the stream request (a gateway's, say); never the bearer for token streams. */
  readonly streamHeaders: Readonly<Record<string, string>>;
  readonly maxLineBytes: number;
  readonly headersTimeoutMs: number;
  /** `--follow-redirects` (see `followRedirect`). */
  readonly followRedirects?: boolean;
  readonly dispatcher?: Dispatcher;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
  /** Bound on connections (token requests included) in this session. */
  readonly maxAttempts?: number;
  /** Bound on the whole session (ms). */
  readonly maxDurationMs?: number;
  /** Backpressure from the output the events go to. */
  readonly flowControl?: FlowControl;
}

/** Progress of a session, for live output. Every callback is optional. */
export interface SessionCallbacks extends StreamCallbacks {
  onTokenResult?(result: TokenResult): void;
  onConnecting?(info: { readonly attempt: number; readonly url: string; readonly lastEventId: string }): void;
  onStreamEnd?(result: StreamResult): void;
  onDecision?(decision: PolicyDecision): void;
}

export type SessionStop = Extract<PolicyDecision, { action: 'stop' }>;

/** Why a target never gave one usable answer: its code and the failure in plain words, with the remedy. */
export interface NeverAnswered {
  readonly code: string;
  readonly description: string;
}

/** Before any answer, these end the session: nothing there, or nothing that speaks HTTP(S) as asked. */
const NEVER_ANSWERED_KINDS: readonly string[] = [...FATAL_TRANSPORT_KINDS, 'closed-before-answer'];

/** What a session did, in numbers. */
export interface SessionResult {
  readonly connections: number;
  readonly tokenRequests: number;
  /** Responses by HTTP status, token endpoint and stream together. */
  readonly responses: Readonly<Record<string, number>>;
  readonly retries: number;
  readonly streams: readonly StreamResult[];
  readonly stop: SessionStop;
  readonly sawTerminal: boolean;
  readonly lastEventId: string;
  readonly lastEnd: StreamEnd | undefined;
  /** Set when the target never answered at all: the tool cannot diagnose what it cannot reach. */
  readonly unreachable: NeverAnswered | undefined;
  /** Set when the token endpoint answered 200 with a token no client can use (see `TokenResult`): why, in one line. */
  readonly unusableToken: string | undefined;
  readonly startedAt: number;
  readonly endedAt: number;
}

/** The part of a session's options that follows from the target and where the stream comes from. */
export function sessionTarget(
  target: TargetOptions,
  api: GenerationsApi,
  source: StreamSource,
): Pick<SessionOptions, 'source' | 'profile' | 'streamHeaders' | 'maxLineBytes' | 'headersTimeoutMs' | 'followRedirects'> {
  return {
    source,
    profile: target.profile,
    // A token-authorised stream gets no bearer (a browser EventSource cannot send one); a plain URL may need it.
    streamHeaders: source.kind === 'url' ? api.headers() : target.headers,
    maxLineBytes: target.maxLineBytes,
    headersTimeoutMs: target.headersTimeoutMs,
    followRedirects: target.followRedirects,
  };
}

const DEFAULT_MAX_ATTEMPTS = 1000;
/** How far past the profile's duration cap a connection may run before we cut it ourselves. */
const DURATION_CAP_GRACE_MS = 5000;

/**
 * One client following one stream to its end: token, connect, and on every end let the client
 * model decide whether and when to go again. Shared by `tail`, `replay` and `load`.
 */
export function runStreamSession(options: SessionOptions, callbacks: SessionCallbacks = {}): Promise<SessionResult> {
  return new StreamSession(options, callbacks).run();
}

/** What a token request led to: a stream URL to connect to, or an outcome for the client model. */
type TokenStep = { readonly url: string } | { readonly outcome: AttemptOutcome } | { readonly stop: SessionResult };

/**
 * A session's state in fields, and the session itself as the connection's callbacks: a load
 * run holds thousands of these open at once, so nothing here is a closure or an object per event.
 */
class StreamSession implements StreamCallbacks {
  private readonly clock: Clock;
  private readonly startedAt: number;
  private readonly isTerminal: (event: SseEvent) => boolean;
  private readonly maxAttempts: number;
  /**
   * Responses by status, as [status, count] pairs. Not an object: a status used as a key makes V8
   * allocate elements up to it (2.5 KiB for a 200); nor a Map, whose table alone is 150 bytes,
   * when a session sees one or two statuses.
   */
  private responses: [status: number, count: number][] = [];
  private readonly streams: StreamResult[] = [];
  private tokenRequests = 0;
  private retries = 0;
  private lastEventId = '';
  private streamUrl: string | undefined;
  private answered = false;
  private sawTerminal = false;
  private lastEnd: StreamEnd | undefined;
  private resume = false;
  private freshTokenNext = true;
  private readonly progress = new StreamProgress();

  constructor(
    private readonly options: SessionOptions,
    private readonly callbacks: SessionCallbacks,
  ) {
    this.clock = options.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.isTerminal = options.isTerminal ?? terminalEventTest(options.profile);
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  }

  async run(): Promise<SessionResult> {
    const { options } = this;
    for (let attempts = 0; ; attempts++) {
      const bound = this.boundReached(attempts);
      if (bound !== undefined) return this.finish(bound);
      if (options.source.kind === 'url') this.streamUrl = options.source.url;
      let step: TokenStep = { url: this.streamUrl as string };
      if (options.source.kind === 'token' && (this.streamUrl === undefined || this.freshTokenNext)) {
        step = await this.requestToken(options.source.api, options.source.generationId);
        if ('stop' in step) return step.stop;
      }
      let outcome: AttemptOutcome;
      if ('outcome' in step) {
        outcome = step.outcome;
      } else {
        const streamOutcome = this.streamEnded(await openStream(this.announceConnection(step.url), this));
        const { end } = streamOutcome;
        if (!this.answered && NEVER_ANSWERED_KINDS.includes(end.kind) && 'code' in end) {
          return this.neverAnswered(end.kind as TransportFailureKind, end.code);
        }
        outcome = streamOutcome;
      }
      const decision = this.withinBound(options.model.decide(outcome));
      this.callbacks.onDecision?.(decision);
      if (decision.action === 'stop') return this.finish(decision);
      this.retries++;
      this.freshTokenNext = decision.freshToken;
      this.resume = decision.resume;
      if (decision.delayMs > 0) await this.clock.sleep(decision.delayMs, options.signal);
    }
  }

  /** The stop for a session past one of its bounds (the user's abort, attempts, duration), if it is. */
  private boundReached(attempts: number): SessionStop | undefined {
    const { signal, maxDurationMs } = this.options;
    if (signal?.aborted) return { action: 'stop', reason: 'stopped by the user', gaveUp: false };
    if (attempts >= this.maxAttempts) return { action: 'stop', reason: `request bound reached (${this.maxAttempts})`, gaveUp: true };
    if (maxDurationMs !== undefined && this.clock.now() - this.startedAt >= maxDurationMs) {
      return { action: 'stop', reason: `duration bound reached (${maxDurationMs} ms)`, gaveUp: true };
    }
    return undefined;
  }

  /** Time left before the session's duration bound (Infinity without one); at least 1 ms, as 0 means "no cap" to a connection. */
  private remainingMs(): number {
    const { maxDurationMs } = this.options;
    return maxDurationMs === undefined ? Infinity : Math.max(1, maxDurationMs - (this.clock.now() - this.startedAt));
  }

  /** A retry whose wait would end past the session's duration bound stops now, rather than sleeping into it. */
  private withinBound(decision: PolicyDecision): PolicyDecision {
    const { maxDurationMs } = this.options;
    if (decision.action !== 'retry' || maxDurationMs === undefined) return decision;
    if (this.clock.now() + decision.delayMs - this.startedAt < maxDurationMs) return decision;
    return { action: 'stop', reason: `${decision.reason}; that wait ends past this run's bound of ${Math.round(maxDurationMs / 1000)} s, so stopping now`, gaveUp: true };
  }

  /** Its own step, so the token response is not held by the session while the stream runs. */
  private async requestToken(api: TokenSource, generationId: string): Promise<TokenStep> {
    this.tokenRequests++;
    const result = await api.requestToken(generationId, { signal: this.options.signal });
    this.callbacks.onTokenResult?.(result);
    if ('failure' in result) {
      if (!this.answered && NEVER_ANSWERED_KINDS.includes(result.failure.failure)) {
        return { stop: this.neverAnswered(result.failure.failure, result.failure.code) };
      }
      return { outcome: { kind: 'token-failed', failure: result.failure.failure, code: result.failure.code } };
    }
    this.answered = true;
    this.count(result.exchange.status);
    // Not the client model's call: the same request gets the same unusable answer, so no model may retry it.
    if ('unusable' in result) return { stop: this.finish({ action: 'stop', reason: result.unusable, gaveUp: false }, undefined, result.unusable) };
    if (result.ok) {
      this.streamUrl = result.token.streamUrl;
      return { url: result.token.streamUrl };
    }
    const { status, retryAfterSeconds, redirect } = result.exchange;
    return { outcome: { kind: 'token-refused', status, retryAfterSeconds, redirect } };
  }

  /** The next connection: announced to the callbacks (`onConnecting`), and its request. */
  private announceConnection(url: string): StreamRequest {
    const { options } = this;
    const { limits } = options.profile;
    const lastEventId = this.resume ? this.lastEventId : '';
    this.progress.connectionStarted();
    this.callbacks.onConnecting?.({ attempt: this.streams.length + 1, url, lastEventId });
    return {
      url,
      headers: options.streamHeaders,
      lastEventId,
      silenceTimeoutMs: options.model.silenceMs,
      // The session's own bound holds inside a connection too: a stream that never ends must not outlive the run.
      maxDurationMs: Math.min(limits.streamMaxSeconds * 1000 + DURATION_CAP_GRACE_MS, this.remainingMs()),
      closeAfterTerminalMs: limits.closeAfterTerminalSeconds * 1000,
      maxLineBytes: options.maxLineBytes,
      headersTimeoutMs: options.headersTimeoutMs,
      dispatcher: options.dispatcher,
      signal: options.signal,
      clock: this.clock,
      isTerminal: this.isTerminal,
      flowControl: options.flowControl,
      followRedirects: options.followRedirects,
    };
  }

  private streamEnded(result: StreamResult): Extract<AttemptOutcome, { kind: 'stream' }> {
    this.streams.push(result);
    this.lastEnd = result.end;
    if (result.lastEventId !== '') this.lastEventId = result.lastEventId;
    if (result.terminalEvent) this.sawTerminal = true;
    this.callbacks.onStreamEnd?.(result);
    const newEvents = this.progress.connectionEnded(result.events);
    return { kind: 'stream', end: result.end, sawTerminal: result.terminalEvent !== undefined, newEvents, serverRetryMs: result.retryMs };
  }

  onOpen(open: StreamOpen): void {
    this.answered = true;
    this.count(open.status);
    this.callbacks.onOpen?.(open);
  }

  onEvent(event: SseEvent): void {
    this.progress.event(event);
    this.callbacks.onEvent?.(event);
  }

  onNotice(notice: SseNotice): void {
    this.callbacks.onNotice?.(notice);
  }

  private count(status: number): void {
    const pair = this.responses.find(([seen]) => seen === status);
    if (pair) pair[1]++;
    // A new array of the exact size: pushing would reserve room for 16 more.
    else this.responses = this.responses.concat([[status, 1]]);
  }

  private neverAnswered(kind: TransportFailureKind, code: string): SessionResult {
    const description = describeTransportFailure(kind, code);
    return this.finish({ action: 'stop', reason: description, gaveUp: false }, { code, description });
  }

  private finish(stop: SessionStop, unreachable?: NeverAnswered, unusableToken?: string): SessionResult {
    const responses = this.responses;
    return {
      connections: this.streams.length,
      tokenRequests: this.tokenRequests,
      // Built only when read: keyed by status, an object costs 2.6 KiB (see `responses` above),
      // and a load run that ends finishes thousands of sessions at once without reading it.
      get responses() {
        return Object.fromEntries(responses);
      },
      retries: this.retries,
      streams: this.streams,
      stop,
      sawTerminal: this.sawTerminal,
      lastEventId: this.lastEventId,
      lastEnd: this.lastEnd,
      unreachable,
      unusableToken,
      startedAt: this.startedAt,
      endedAt: this.clock.now(),
    };
  }
}
