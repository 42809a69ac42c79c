import type { ProfileClient } from './target.js';
import { cachedPer } from './cachedPer.js';
import type { StreamEnd } from './connection.js';
import { clampDelay, delayFromSeconds, describeClamp } from './delay.js';

/** What happened on one attempt, as a client policy sees it. */
export type AttemptOutcome =
  | { readonly kind: 'token-refused'; readonly status: number; readonly retryAfterSeconds: number | undefined }
  | { readonly kind: 'token-failed'; readonly failure: string }
  | {
      readonly kind: 'stream';
      readonly end: StreamEnd;
      readonly sawTerminal: boolean;
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
  readonly name: ClientModelName;
  /** The client's silence watchdog (ms); 0 = it has none. */
  readonly silenceMs: number;
  decide(outcome: AttemptOutcome): PolicyDecision;
}

/** Delay before retry number `retry` (1-based): the schedule's entry, its last past the end, with jitter. */
export function retryDelay(retry: number, delaysMs: readonly number[], jitter: number, random: () => number): number {
  const base = delaysMs[Math.min(retry, delaysMs.length) - 1] ?? 0;
  return clampDelay(base * (1 + jitter * (2 * random() - 1))).ms;
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
    case 'reset':
      return `connection reset (${end.code})`;
    case 'abrupt-close':
      return `connection closed abruptly (${end.code})`;
    case 'silence':
      return `no byte for ${Math.round(end.silentMs)} ms (silence watchdog)`;
    case 'max-duration':
      return `still open after ${Math.round(end.durationMs)} ms (duration bound)`;
    case 'http-error':
      return `HTTP ${end.status}`;
    case 'wrong-content-type':
      return `wrong content type "${end.contentType || '(none)'}"`;
    case 'line-too-long':
      return `a line longer than ${end.bytes} bytes without a newline`;
    case 'unreachable':
      return `unreachable (${end.code})`;
    case 'timeout':
      return `${end.phase} timeout (${end.code})`;
    case 'local-limit':
      return `this machine is out of file descriptors (${end.code}): the tool's limit, not the target's`;
    case 'aborted':
      return 'stopped by the user';
  }
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
  private readonly delaysMs: readonly number[];
  private retriesInRow = 0;

  constructor(
    private readonly config: ProfileClient,
    private readonly random: () => number = Math.random,
  ) {
    this.silenceMs = config.silenceSeconds * 1000;
    this.delaysMs = delaysMsOf(config);
  }

  decide(outcome: AttemptOutcome): PolicyDecision {
    const { config } = this;
    if (outcome.kind === 'token-refused') {
      if (outcome.status === 429) return this.rateLimited(outcome.retryAfterSeconds);
      if (config.stopStatuses.includes(outcome.status)) return stop(`token endpoint answered ${outcome.status}: not retrying`);
      return this.backoff(`token endpoint answered ${outcome.status}`);
    }
    if (outcome.kind === 'token-failed') return this.backoff(`token request failed (${outcome.failure})`);
    if (outcome.sawTerminal) return stop('terminal event received');
    if (outcome.newEvents > 0) this.retriesInRow = 0;
    const { end } = outcome;
    if (end.kind === 'aborted') return stop('stopped by the user');
    if (end.kind === 'http-error') {
      if (end.status === 429) return this.rateLimited(end.retryAfterSeconds);
      if (config.stopStatuses.includes(end.status)) return stop(`stream answered ${end.status}: not retrying`);
    }
    if (end.kind === 'wrong-content-type' || end.kind === 'line-too-long') return stop(`${describeEnd(end)}: not an event stream, not retrying`);
    return this.backoff(describeEnd(end));
  }

  private retryAfter(reason: string, delayMs: number): PolicyDecision {
    this.retriesInRow++;
    const { maxRetries } = this.config;
    if (this.retriesInRow > maxRetries) return stop(`gave up after ${maxRetries} retries (last: ${reason})`, true);
    return { action: 'retry', delayMs, reason, retry: this.retriesInRow, freshToken: true, resume: true };
  }

  private backoff(reason: string): PolicyDecision {
    return this.retryAfter(reason, retryDelay(this.retriesInRow + 1, this.delaysMs, this.config.jitter, this.random));
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

/** A profile's retry schedule in ms, worked out once per profile rather than once per client. */
const delaysMsOf = cachedPer((config: ProfileClient): readonly number[] => config.retryDelaysSeconds.map((seconds) => seconds * 1000));

/** The seed's frontend: on every close or error, a new token and a reconnect at once, forever. */
export class NaiveClient implements ClientModel {
  readonly name = 'naive';
  readonly silenceMs = 0;
  private retries = 0;

  decide(outcome: AttemptOutcome): PolicyDecision {
    if (outcome.kind === 'stream' && outcome.sawTerminal) return stop('terminal event received');
    if (outcome.kind === 'stream' && outcome.end.kind === 'aborted') return stop('stopped by the user');
    this.retries++;
    const reason = outcome.kind === 'stream' ? describeEnd(outcome.end) : outcome.kind === 'token-refused' ? `token endpoint answered ${outcome.status}` : `token request failed (${outcome.failure})`;
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
    if (outcome.kind === 'token-failed') return stop(`token request failed (${outcome.failure}): the page gives up`);
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

export function createClientModel(name: ClientModelName, config: ProfileClient, random?: () => number): ClientModel {
  if (name === 'naive') return new NaiveClient();
  if (name === 'eventsource') return new EventSourceClient();
  return new RobustClient(config, random);
}
