import type { Dispatcher } from 'undici';
import type { TargetOptions } from '../options/options.js';
import type { Profile } from '../options/profiles.js';
import { systemClock, type Clock } from './clock.js';
import type { AttemptOutcome, ClientModel, PolicyDecision } from './clientPolicy.js';
import { openStream, type StreamCallbacks, type StreamEnd, type StreamResult } from './connection.js';
import { terminalEventTest } from './contractEvents.js';
import type { GenerationsApi, TokenResult } from './generationsApi.js';

/** Where a session gets its stream URL: the token endpoint (generations) or a fixed URL (generic). */
export type StreamSource =
  | { readonly kind: 'token'; readonly api: GenerationsApi; readonly generationId: string }
  | { readonly kind: 'url'; readonly url: string };

export interface SessionOptions {
  readonly source: StreamSource;
  readonly model: ClientModel;
  readonly profile: Profile;
  /** Extra headers on the stream request (a gateway's, say); never the bearer for token streams. */
  readonly streamHeaders: Readonly<Record<string, string>>;
  readonly maxLineBytes: number;
  readonly headersTimeoutMs: number;
  readonly dispatcher?: Dispatcher;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
  /** Bound on connections (token requests included) in this session. */
  readonly maxAttempts?: number;
  /** Bound on the whole session (ms). */
  readonly maxDurationMs?: number;
}

/** Progress of a session, for live output. Every callback is optional. */
export interface SessionCallbacks extends StreamCallbacks {
  onTokenResult?(result: TokenResult): void;
  onConnecting?(info: { readonly attempt: number; readonly url: string; readonly lastEventId: string }): void;
  onStreamEnd?(result: StreamResult): void;
  onDecision?(decision: PolicyDecision): void;
}

export type SessionStop = Extract<PolicyDecision, { action: 'stop' }>;

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
  readonly unreachable: { readonly code: string; readonly message: string } | undefined;
  readonly startedAt: number;
  readonly endedAt: number;
}

/** The part of a session's options that follows from the target and where the stream comes from. */
export function sessionTarget(
  target: TargetOptions,
  api: GenerationsApi,
  source: StreamSource,
): Pick<SessionOptions, 'source' | 'profile' | 'streamHeaders' | 'maxLineBytes' | 'headersTimeoutMs'> {
  return {
    source,
    profile: target.profile,
    // A token-authorised stream gets no bearer (a browser EventSource cannot send one); a plain URL may need it.
    streamHeaders: source.kind === 'url' ? api.headers() : target.headers,
    maxLineBytes: target.maxLineBytes,
    headersTimeoutMs: target.headersTimeoutMs,
  };
}

const DEFAULT_MAX_ATTEMPTS = 1000;
/** How far past the profile's duration cap a connection may run before we cut it ourselves. */
const DURATION_CAP_GRACE_MS = 5000;

/**
 * One client following one stream to its end: token, connect, and on every end let the client
 * model decide whether and when to go again. Shared by `tail`, `replay` and `load`.
 */
export async function runStreamSession(options: SessionOptions, callbacks: SessionCallbacks = {}): Promise<SessionResult> {
  const clock = options.clock ?? systemClock;
  const startedAt = clock.now();
  const isTerminal = terminalEventTest(options.profile);
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const { limits } = options.profile;
  // A Map while counting: a status used as an object key makes V8 allocate elements up to it (2.5 KiB for a 200).
  const responses = new Map<number, number>();
  const streams: StreamResult[] = [];
  let tokenRequests = 0;
  let retries = 0;
  let lastEventId = '';
  let streamUrl: string | undefined;
  let answered = false;
  let sawTerminal = false;
  let lastEnd: StreamEnd | undefined;
  let resume = false;
  let freshTokenNext = true;
  let attempts = 0;

  const finish = (stop: SessionStop, unreachable?: { code: string; message: string }): SessionResult => ({
    connections: streams.length,
    tokenRequests,
    responses: Object.fromEntries(responses),
    retries,
    streams,
    stop,
    sawTerminal,
    lastEventId,
    lastEnd,
    unreachable,
    startedAt,
    endedAt: clock.now(),
  });
  const count = (status: number) => {
    responses.set(status, (responses.get(status) ?? 0) + 1);
  };

  for (;;) {
    if (options.signal?.aborted) return finish({ action: 'stop', reason: 'stopped by the user', gaveUp: false });
    if (attempts >= maxAttempts) return finish({ action: 'stop', reason: `request bound reached (${maxAttempts})`, gaveUp: true });
    if (options.maxDurationMs !== undefined && clock.now() - startedAt >= options.maxDurationMs) {
      return finish({ action: 'stop', reason: `duration bound reached (${options.maxDurationMs} ms)`, gaveUp: true });
    }
    attempts++;
    let outcome: AttemptOutcome;
    if (options.source.kind === 'url') streamUrl = options.source.url;
    const needsToken = options.source.kind === 'token' && (streamUrl === undefined || freshTokenNext);
    if (needsToken && options.source.kind === 'token') {
      tokenRequests++;
      const result = await options.source.api.requestToken(options.source.generationId, { signal: options.signal });
      callbacks.onTokenResult?.(result);
      if ('failure' in result) {
        if (!answered && result.failure.failure === 'unreachable') {
          return finish({ action: 'stop', reason: `unreachable (${result.failure.code})`, gaveUp: false }, result.failure);
        }
        outcome = { kind: 'token-failed', failure: `${result.failure.failure} ${result.failure.code}` };
      } else {
        answered = true;
        count(result.exchange.status);
        if (result.ok) {
          streamUrl = result.token.streamUrl;
          outcome = await connect(streamUrl);
        } else {
          outcome = { kind: 'token-refused', status: result.exchange.status, retryAfterSeconds: result.exchange.retryAfterSeconds };
        }
      }
    } else {
      outcome = await connect(streamUrl as string);
    }
    if (outcome.kind === 'stream' && outcome.end.kind === 'unreachable' && !answered) {
      return finish({ action: 'stop', reason: `unreachable (${outcome.end.code})`, gaveUp: false }, { code: outcome.end.code, message: outcome.end.message });
    }
    const decision = options.model.decide(outcome);
    callbacks.onDecision?.(decision);
    if (decision.action === 'stop') return finish(decision);
    retries++;
    freshTokenNext = decision.freshToken;
    resume = decision.resume;
    if (decision.delayMs > 0) await clock.sleep(decision.delayMs, options.signal);
  }

  async function connect(url: string): Promise<AttemptOutcome> {
    const sentLastEventId = resume ? lastEventId : '';
    callbacks.onConnecting?.({ attempt: streams.length + 1, url, lastEventId: sentLastEventId });
    const result = await openStream(
      {
        url,
        headers: options.streamHeaders,
        lastEventId: sentLastEventId,
        silenceTimeoutMs: options.model.silenceMs,
        maxDurationMs: limits.streamMaxSeconds * 1000 + DURATION_CAP_GRACE_MS,
        closeAfterTerminalMs: limits.closeAfterTerminalSeconds * 1000,
        maxLineBytes: options.maxLineBytes,
        headersTimeoutMs: options.headersTimeoutMs,
        dispatcher: options.dispatcher,
        signal: options.signal,
        clock,
        isTerminal,
      },
      {
        onOpen: (open) => {
          answered = true;
          count(open.status);
          callbacks.onOpen?.(open);
        },
        // Passed straight through: the connection counts its events, and a wrapper per event would cost more.
        onEvent: callbacks.onEvent,
        onNotice: callbacks.onNotice,
      },
    );
    streams.push(result);
    lastEnd = result.end;
    if (result.lastEventId !== '') lastEventId = result.lastEventId;
    if (result.terminalEvent) sawTerminal = true;
    callbacks.onStreamEnd?.(result);
    return { kind: 'stream', end: result.end, sawTerminal: result.terminalEvent !== undefined, newEvents: result.events, serverRetryMs: result.retryMs };
  }
}
