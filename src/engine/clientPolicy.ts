import type { ProfileClient } from './target.js';
import { systemClock, type Clock } from './clock.js';
import { FATAL_TRANSPORT_KINDS, describeEnd, describeTransportFailure, type StreamEnd, type TransportFailureKind } from './connection.js';
import { clampDelay, delayFromSeconds, describeClamp } from './delay.js';
import { REDIRECTS_NOT_FOLLOWED } from './redirects.js';

/** What happened on one attempt, as a client policy sees it. */
export type AttemptOutcome =
  /** `redirect`: for a 3xx, why it was not followed. */
  | { readonly kind: 'token-refused'; readonly status: number; readonly retryAfterSeconds: number | undefined; readonly redirect?: string }
  | { readonly kind: 'token-failed'; readonly failure: TransportFailureKind; readonly code: string }
  | {
      readonly kind: 'stream';
      readonly end: StreamEnd;
      readonly sawTerminal: boolean;
      /** Events that were not a replay of earlier connections from their start (see `StreamProgress`). */
      readonly newEvents: number;
      /** The server's `retry:` advice on this connection, if any. */
      readonly serverRetryMs: number | undefined;
    };

/** The policy's answer: stop, or try again after a delay. */
export type PolicyDecision =
  | { readonly action: 'stop'; readonly reason: string; readonly gaveUp: boolean }
  | {
      readonly action: 'retry';
      readonly delayMs: number;
      readonly reason: string;
      /** 1 for the first retry in a row. */
      readonly retry: number;
      /** Ask the token endpoint again (false: reuse the last stream URL, as a browser EventSource must). */
      readonly freshToken: boolean;
      /** Send `Last-Event-ID` on the next connection. */
      readonly resume: boolean;
    };

export const CLIENT_MODELS = ['robust', 'naive', 'eventsource'] as const;
export type ClientModelName = (typeof CLIENT_MODELS)[number];

/** A client model: a decision function with its own memory (how many retries in a row). */
export interface ClientModel {
  readonly name: ClientModelName | 'measured';
  /** The client's silence watchdog (ms); 0 = it has none. */
  readonly silenceMs: number;
  decide(outcome: AttemptOutcome): PolicyDecision;
}

/** Delay before retry number `retry` (1-based): the schedule's entry, its last past the end, with jitter. */
export function retryDelay(retry: number, delaysMs: readonly number[], jitter: number, random: () => number): number {
  const base = delaysMs[Math.min(retry, delaysMs.length) - 1] ?? 0;
  return clampDelay(base * (1 + jitter * (2 * random() - 1))).ms;
}

/** What no retry can fix: a TLS or protocol failure, a redirect, or a 200 whose body is unusable. */
function unfixable(outcome: AttemptOutcome): string | undefined {
  if (outcome.kind === 'token-failed') return FATAL_TRANSPORT_KINDS.includes(outcome.failure) ? `token request failed: ${describeTransportFailure(outcome.failure, outcome.code)}` : undefined;
  if (outcome.kind === 'token-refused') {
    if (outcome.status >= 200 && outcome.status < 300) return `token endpoint answered ${outcome.status} without a usable token`;
    if (outcome.status >= 300 && outcome.status < 400) return `token endpoint answered ${outcome.status}, a redirect (${outcome.redirect ?? REDIRECTS_NOT_FOLLOWED})`;
    return undefined;
  }
  const { end } = outcome;
  if ((FATAL_TRANSPORT_KINDS as readonly string[]).includes(end.kind)) return describeEnd(end);
  if (end.kind === 'http-error' && end.status >= 300 && end.status < 400) return describeEnd(end);
  return undefined;
}

/**
 * docs/contract.md's client policy: never retry after a terminal event nor after 400/401/403/404/422;
 * on 429 wait Retry-After (or the fallback); otherwise reconnect with a fresh token and
 * Last-Event-ID after 2, 4, 8, 16, 32 s, at most `maxRetries` times in a row, then give up.
 * A connection that delivered new events starts the count again.
 */
export class RobustClient implements ClientModel {
  readonly name = 'robust';
  readonly silenceMs: number;
  private retriesInRow = 0;

  constructor(
    private readonly config: ProfileClient,
    private readonly random: () => number = Math.random,
  ) {
    this.silenceMs = config.silenceSeconds * 1000;
  }

  decide(outcome: AttemptOutcome): PolicyDecision {
    const { config } = this;
    const cannotFix = unfixable(outcome);
    if (cannotFix !== undefined) return stop(`${cannotFix}: not retrying`);
    if (outcome.kind === 'token-refused') {
      if (outcome.status === 429) return this.rateLimited(outcome.retryAfterSeconds);
      if (config.stopStatuses.includes(outcome.status)) return stop(`token endpoint answered ${outcome.status}: not retrying`);
      return this.backoff(`token endpoint answered ${outcome.status}`);
    }
    if (outcome.kind === 'token-failed') return this.backoff(`token request failed: ${describeTransportFailure(outcome.failure, outcome.code)}`);
    if (outcome.sawTerminal) return stop('terminal event received');
    if (outcome.newEvents > 0) this.retriesInRow = 0;
    const { end } = outcome;
    if (end.kind === 'aborted') return stop('stopped by the user');
    if (end.kind === 'http-error') {
      if (end.status === 429) return this.rateLimited(end.retryAfterSeconds);
      if (config.stopStatuses.includes(end.status)) return stop(`stream answered ${end.status}: not retrying`);
    }
    if (end.kind === 'wrong-content-type' || end.kind === 'binary-body' || end.kind === 'line-too-long') return stop(`${describeEnd(end)}: not an event stream, not retrying`);
    return this.backoff(describeEnd(end), outcome.serverRetryMs);
  }

  private retryAfter(reason: string, delayMs: number): PolicyDecision {
    this.retriesInRow++;
    const { maxRetries } = this.config;
    if (this.retriesInRow > maxRetries) return stop(`gave up after ${maxRetries} retries (last: ${reason})`, true);
    return { action: 'retry', delayMs, reason, retry: this.retriesInRow, freshToken: true, resume: true };
  }

  /** The schedule's next delay, or the server's `retry:` when that is longer: a server asking for more room gets it. */
  private backoff(reason: string, serverRetryMs?: number): PolicyDecision {
    const delaysMs = this.config.retryDelaysSeconds.map((seconds) => seconds * 1000);
    const scheduled = retryDelay(this.retriesInRow + 1, delaysMs, this.config.jitter, this.random);
    if (serverRetryMs === undefined) return this.retryAfter(reason, scheduled);
    const server = clampDelay(serverRetryMs);
    if (server.ms <= scheduled) return this.retryAfter(reason, scheduled);
    return this.retryAfter(`${reason}; waiting the server's retry: ${server.ms} ms, longer than the backoff${describeClamp(server)}`, server.ms);
  }

  private rateLimited(retryAfterSeconds: number | undefined): PolicyDecision {
    const delay = delayFromSeconds(retryAfterSeconds ?? this.config.rateLimitFallbackSeconds);
    const source = retryAfterSeconds === undefined ? ' (no usable Retry-After, fallback)' : ' (Retry-After)';
    return this.retryAfter(`429 Too Many Requests: waiting ${delay.ms / 1000} s${source}${describeClamp(delay)}`, delay.ms);
  }
}

function stop(reason: string, gaveUp = false): PolicyDecision {
  return { action: 'stop', reason, gaveUp };
}

/** The seed's frontend: on every close or error, a new token and a reconnect at once, forever. */
export class NaiveClient implements ClientModel {
  readonly name = 'naive';
  readonly silenceMs = 0;
  private retries = 0;

  decide(outcome: AttemptOutcome): PolicyDecision {
    if (outcome.kind === 'stream' && outcome.sawTerminal) return stop('terminal event received');
    if (outcome.kind === 'stream' && outcome.end.kind === 'aborted') return stop('stopped by the user');
    this.retries++;
    const reason = outcome.kind === 'stream' ? describeEnd(outcome.end) : outcome.kind === 'token-refused' ? `token endpoint answered ${outcome.status}` : `token request failed: ${describeTransportFailure(outcome.failure, outcome.code)}`;
    return { action: 'retry', delayMs: 0, reason, retry: this.retries, freshToken: true, resume: false };
  }
}

const EVENTSOURCE_DEFAULT_RETRY_MS = 3000;

/**
 * A browser EventSource by the WHATWG spec: it reconnects to the same URL (it cannot fetch a
 * fresh token) after the server's `retry:` or 3 s, with Last-Event-ID, with no backoff and no
 * limit; a non-200 status or a wrong content type fails the connection for good. The page's
 * code closes it on a terminal event, as any sane page does.
 */
export class EventSourceClient implements ClientModel {
  readonly name = 'eventsource';
  readonly silenceMs = 0;
  private retries = 0;
  private retryMs = EVENTSOURCE_DEFAULT_RETRY_MS;

  decide(outcome: AttemptOutcome): PolicyDecision {
    if (outcome.kind === 'token-refused') return stop(`token endpoint answered ${outcome.status}: the page gives up`);
    if (outcome.kind === 'token-failed') return stop(`token request failed: ${describeTransportFailure(outcome.failure, outcome.code)}; the page gives up`);
    if (outcome.sawTerminal) return stop('terminal event received (the page closes the EventSource)');
    const { end } = outcome;
    if (end.kind === 'aborted') return stop('stopped by the user');
    if (end.kind === 'http-error' || end.kind === 'wrong-content-type') return stop(`${describeEnd(end)}: EventSource fails the connection, no reconnect`);
    // The spec lets `retry:` change the reconnection time for the rest of the EventSource's life.
    let clampNote = '';
    if (outcome.serverRetryMs !== undefined) {
      const delay = clampDelay(outcome.serverRetryMs);
      this.retryMs = delay.ms;
      clampNote = delay.clamped === undefined ? '' : `; retry:${describeClamp(delay)}`;
    }
    this.retries++;
    return { action: 'retry', delayMs: this.retryMs, reason: `${describeEnd(end)}${clampNote}`, retry: this.retries, freshToken: false, resume: true };
  }
}

/** How an attempt ended, in the words a measured client model keeps delays for. */
export const END_KINDS = ['terminal', 'stream-closed', 'stream-refused', 'token-refused', 'rate-limited', 'server-error', 'network'] as const;
export type EndKind = (typeof END_KINDS)[number];

/** What a client did after one kind of end, as `analyze --client-model` measured it. */
export interface MeasuredEnd {
  readonly retries: boolean;
  /** From the end to the next request (ms). */
  readonly delayMs: number;
  /** From the start of the ended attempt to the start of the next (ms), where measured. */
  readonly intervalMs: number | undefined;
}

/** A client model file (`analyze --client-model`): plain data, so it travels to load workers as is. */
export interface MeasuredClientSpec {
  readonly kind: 'sse-doctor/client-model';
  readonly version: 1;
  /** The evidence it was measured from. */
  readonly source: string;
  readonly ends: Readonly<Partial<Record<EndKind, MeasuredEnd>>>;
  /** Gives up after this many retries in a row; undefined: it was never seen giving up. */
  readonly maxRetries: number | undefined;
  readonly resumes: boolean;
  readonly refreshesToken: boolean;
}

export function endKindOf(outcome: AttemptOutcome): EndKind {
  const status = outcome.kind === 'token-refused' ? outcome.status : outcome.kind === 'stream' && outcome.end.kind === 'http-error' ? outcome.end.status : undefined;
  if (status === 429) return 'rate-limited';
  if (status !== undefined && status >= 500) return 'server-error';
  if (outcome.kind === 'token-refused') return 'token-refused';
  if (outcome.kind === 'token-failed') return 'network';
  if (outcome.sawTerminal) return 'terminal';
  switch (outcome.end.kind) {
    case 'http-error':
    case 'wrong-content-type':
    case 'binary-body':
    case 'line-too-long':
      return 'stream-refused';
    case 'reset':
    case 'abrupt-close':
    case 'unreachable':
    case 'timeout':
    case 'local-limit':
      return 'network';
    default:
      return 'stream-closed';
  }
}

/** Behind its schedule by this much (a stream that ran, a long stall), a measured client starts a new schedule. */
const MAX_PACING_DEBT_MS = 1000;

/**
 * A client measured from evidence (a HAR, an access log): after each kind of end it stops or
 * retries as the recorded one did. Where the evidence gave start-to-start intervals it paces
 * attempts by them on a schedule, so the recorded request rate survives this machine's different
 * latencies. An end kind never seen behaves like a stream that closed without a terminal event.
 */
export class MeasuredClient implements ClientModel {
  readonly name = 'measured';
  readonly silenceMs = 0;
  private retriesInRow = 0;
  private nextAttemptAt: number | undefined;

  constructor(
    private readonly spec: MeasuredClientSpec,
    /** The session's clock: pacing is measured on the same scale as the waits it asks for. */
    private readonly clock: Pick<Clock, 'now'> = systemClock,
  ) {}

  decide(outcome: AttemptOutcome): PolicyDecision {
    if (outcome.kind === 'stream' && outcome.end.kind === 'aborted') return stop('stopped by the user');
    if (outcome.kind === 'stream' && outcome.newEvents > 0) this.retriesInRow = 0;
    const kind = endKindOf(outcome);
    const measured = this.spec.ends[kind] ?? this.spec.ends['stream-closed'];
    if (measured === undefined || !measured.retries) return stop(`the measured client stops after ${kind}`);
    this.retriesInRow++;
    const { maxRetries } = this.spec;
    if (maxRetries !== undefined && this.retriesInRow > maxRetries) return stop(`gave up after ${maxRetries} retries, as measured`, true);
    const now = this.clock.now();
    let delayMs = measured.delayMs;
    if (measured.intervalMs !== undefined && this.nextAttemptAt !== undefined && now - this.nextAttemptAt < MAX_PACING_DEBT_MS) {
      // On a schedule: an attempt that ran late (a slow start, a stall) is made up by the next ones going at once.
      this.nextAttemptAt += measured.intervalMs;
      delayMs = Math.max(0, this.nextAttemptAt - now);
    } else this.nextAttemptAt = now + delayMs;
    return { action: 'retry', delayMs, reason: `after ${kind}, as measured`, retry: this.retriesInRow, freshToken: this.spec.refreshesToken, resume: this.spec.resumes };
  }
}

/** A built-in client model by name, or one measured from evidence. */
export type ClientChoice = ClientModelName | MeasuredClientSpec;

/** How reports name a client choice. */
export function clientLabel(choice: ClientChoice): string {
  return typeof choice === 'string' ? choice : `measured (${choice.source})`;
}

export function createClientModel(name: ClientChoice, config: ProfileClient, clock?: Pick<Clock, 'now'>): ClientModel {
  if (typeof name === 'object') return new MeasuredClient(name, clock);
  if (name === 'naive') return new NaiveClient();
  if (name === 'eventsource') return new EventSourceClient();
  return new RobustClient(config);
}
