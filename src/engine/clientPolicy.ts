import type { ProfileClient } from '../options/profiles.js';
import type { StreamEnd } from './connection.js';

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
  return Math.max(0, Math.round(base * (1 + jitter * (2 * random() - 1))));
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
    case 'aborted':
      return 'stopped by the user';
  }
}

/**
 * CONTRACT.md's client policy: never retry after a terminal event nor after 400/401/403/404/422;
 * on 429 wait Retry-After (or the fallback); otherwise reconnect with a fresh token and
 * Last-Event-ID after 2, 4, 8, 16, 32 s, at most `maxRetries` times in a row, then give up.
 * A connection that delivered new events starts the count again.
 */
export function robustClient(config: ProfileClient, random: () => number = Math.random): ClientModel {
  let retriesInRow = 0;
  const delaysMs = config.retryDelaysSeconds.map((seconds) => seconds * 1000);
  const stop = (reason: string, gaveUp = false): PolicyDecision => ({ action: 'stop', reason, gaveUp });
  const retryAfter = (reason: string, delayMs: number): PolicyDecision => {
    retriesInRow++;
    if (retriesInRow > config.maxRetries) return stop(`gave up after ${config.maxRetries} retries (last: ${reason})`, true);
    return { action: 'retry', delayMs, reason, retry: retriesInRow, freshToken: true, resume: true };
  };
  const backoff = (reason: string): PolicyDecision =>
    retryAfter(reason, retryDelay(retriesInRow + 1, delaysMs, config.jitter, random));
  const rateLimited = (retryAfterSeconds: number | undefined): PolicyDecision => {
    const seconds = retryAfterSeconds ?? config.rateLimitFallbackSeconds;
    return retryAfter(`429 Too Many Requests: waiting ${seconds} s${retryAfterSeconds === undefined ? ' (no Retry-After, fallback)' : ' (Retry-After)'}`, seconds * 1000);
  };

  return {
    name: 'robust',
    silenceMs: config.silenceSeconds * 1000,
    decide(outcome) {
      if (outcome.kind === 'token-refused') {
        if (outcome.status === 429) return rateLimited(outcome.retryAfterSeconds);
        if (config.stopStatuses.includes(outcome.status)) return stop(`token endpoint answered ${outcome.status}: not retrying`);
        return backoff(`token endpoint answered ${outcome.status}`);
      }
      if (outcome.kind === 'token-failed') return backoff(`token request failed (${outcome.failure})`);
      if (outcome.sawTerminal) return stop('terminal event received');
      if (outcome.newEvents > 0) retriesInRow = 0;
      const { end } = outcome;
      if (end.kind === 'aborted') return stop('stopped by the user');
      if (end.kind === 'http-error') {
        if (end.status === 429) return rateLimited(end.retryAfterSeconds);
        if (config.stopStatuses.includes(end.status)) return stop(`stream answered ${end.status}: not retrying`);
      }
      if (end.kind === 'wrong-content-type' || end.kind === 'line-too-long') return stop(`${describeEnd(end)}: not an event stream, not retrying`);
      return backoff(describeEnd(end));
    },
  };
}

/** The seed's frontend: on every close or error, a new token and a reconnect at once, forever. */
export function naiveClient(): ClientModel {
  let retries = 0;
  return {
    name: 'naive',
    silenceMs: 0,
    decide(outcome) {
      if (outcome.kind === 'stream' && outcome.sawTerminal) return { action: 'stop', reason: 'terminal event received', gaveUp: false };
      if (outcome.kind === 'stream' && outcome.end.kind === 'aborted') return { action: 'stop', reason: 'stopped by the user', gaveUp: false };
      retries++;
      const reason = outcome.kind === 'stream' ? describeEnd(outcome.end) : outcome.kind === 'token-refused' ? `token endpoint answered ${outcome.status}` : `token request failed (${outcome.failure})`;
      return { action: 'retry', delayMs: 0, reason, retry: retries, freshToken: true, resume: false };
    },
  };
}

const EVENTSOURCE_DEFAULT_RETRY_MS = 3000;

/**
 * A browser EventSource by the WHATWG spec: it reconnects to the same URL (it cannot fetch a
 * fresh token) after the server's `retry:` or 3 s, with Last-Event-ID, with no backoff and no
 * limit; a non-200 status or a wrong content type fails the connection for good. The page's
 * code closes it on a terminal event, as any sane page does.
 */
export function eventSourceClient(): ClientModel {
  let retries = 0;
  let retryMs = EVENTSOURCE_DEFAULT_RETRY_MS;
  return {
    name: 'eventsource',
    silenceMs: 0,
    decide(outcome) {
      if (outcome.kind === 'token-refused') return { action: 'stop', reason: `token endpoint answered ${outcome.status}: the page gives up`, gaveUp: false };
      if (outcome.kind === 'token-failed') return { action: 'stop', reason: `token request failed (${outcome.failure}): the page gives up`, gaveUp: false };
      if (outcome.sawTerminal) return { action: 'stop', reason: 'terminal event received (the page closes the EventSource)', gaveUp: false };
      const { end } = outcome;
      if (end.kind === 'aborted') return { action: 'stop', reason: 'stopped by the user', gaveUp: false };
      if (end.kind === 'http-error' || end.kind === 'wrong-content-type') {
        return { action: 'stop', reason: `${describeEnd(end)}: EventSource fails the connection, no reconnect`, gaveUp: false };
      }
      // The spec lets `retry:` change the reconnection time for the rest of the EventSource's life.
      if (outcome.serverRetryMs !== undefined) retryMs = outcome.serverRetryMs;
      retries++;
      return { action: 'retry', delayMs: retryMs, reason: describeEnd(end), retry: retries, freshToken: false, resume: true };
    },
  };
}

export function createClientModel(name: ClientModelName, config: ProfileClient, random?: () => number): ClientModel {
  if (name === 'naive') return naiveClient();
  if (name === 'eventsource') return eventSourceClient();
  return robustClient(config, random);
}
