import { EXIT_CODES, UnreachableError, UsageError } from '../errors.js';
import { systemClock, type Clock } from '../engine/clock.js';
import { createClientModel } from '../engine/clientPolicy.js';
import { describeEnd, describeTransportFailure, type FlowControl } from '../engine/connection.js';
import { GenerationsApi, answerError, whyRefused } from '../engine/generationsApi.js';
import { createDispatcher } from '../engine/http.js';
import { redactStreamUrl, shortenToken, type SecretSink } from '../engine/secrets.js';
import { heldBackLimitMs } from '../engine/heldBack.js';
import { StreamObserver, describeObservation } from '../engine/streamObserver.js';
import { runStreamSession, sessionTarget, type StreamSource } from '../engine/streamSession.js';
import { diagnoseTokenStatus } from '../engine/tokenDiagnosis.js';
import type { TargetOptions } from '../engine/target.js';
import { describeNotice } from '../engine/sseDecoder.js';
import type { TailItem } from '../reporters/tailItems.js';
import { reporterFor } from '../reporters/registry.js';

export interface TailOptions {
  readonly target: TargetOptions;
  /** A generation to follow; with neither this nor `target.streamUrl`, a new one is created. */
  readonly generationId: string | undefined;
  /** For a created generation: use the profile's failing prompt. */
  readonly failing: boolean;
  readonly json: boolean;
  readonly color: boolean;
  readonly clock?: Clock;
  /** The overall bound of the run (ms); undefined only with `--follow`. */
  readonly maxDurationMs: number | undefined;
}

/**
 * `sse-doctor tail`: follow one stream live, reconnecting by the client policy, and say how it
 * ended. Exit 0 only for a terminal event followed by a clean close.
 */
export async function tail(
  options: TailOptions,
  io: { stdout: NodeJS.WritableStream; signal?: AbortSignal; secrets?: SecretSink; stdoutFlow?: FlowControl },
): Promise<number> {
  const clock = options.clock ?? systemClock;
  const { target } = options;
  const { profile } = target;
  const startedAt = clock.now();
  const since = (t: number) => t - startedAt;
  const line = reporterFor('tail-item', options.json ? 'json' : 'pretty', options);
  const emit = (item: TailItem) => {
    const text = line(item);
    if (text !== '') io.stdout.write(text);
  };
  const dispatcher = createDispatcher(target);
  try {
    const api = new GenerationsApi(target, { dispatcher, clock, secrets: io.secrets });
    const { source, generationId } = await resolveSource(options, api, io.signal);
    if (generationId !== null) emit({ kind: 'generation', id: generationId, created: options.generationId === undefined, t: since(clock.now()) });

    const observer = new StreamObserver(profile.limits.heartbeatSeconds * 1000, (observation) =>
      emit({ kind: 'diagnostic', level: 'warn', code: observation.kind, message: describeObservation(observation), t: since(observation.t) }),
    );
    const model = createClientModel('robust', profile.client);
    let lastTokenStatus: number | undefined;
    // A server may send retry: with every event; saying it once per connection is enough.
    let retryNoticed = false;
    const session = await runStreamSession(
      {
        ...sessionTarget(target, api, source),
        model,
        dispatcher,
        clock,
        signal: io.signal,
        flowControl: io.stdoutFlow,
        maxDurationMs: options.maxDurationMs,
      },
      {
        onTokenResult: (result) => {
          if ('failure' in result) {
            emit({ kind: 'diagnostic', level: 'warn', code: `token-${result.failure.failure}`, message: `token request failed: ${describeTransportFailure(result.failure.failure, result.failure.code)}`, t: since(clock.now()) });
            return;
          }
          const { exchange } = result;
          lastTokenStatus = exchange.status;
          emit({
            kind: 'token',
            status: exchange.status,
            latencyMs: exchange.latencyMs,
            token: result.ok ? shortenToken(result.token.token) : null,
            detail: result.ok ? null : whyRefused(result),
            meaning: result.ok ? null : diagnoseTokenStatus(exchange.status, exchange.retryAfterSeconds, profile.client.rateLimitFallbackSeconds, false).meaning,
            t: since(clock.now()),
          });
        },
        onConnecting: ({ attempt, url, lastEventId }) => {
          retryNoticed = false;
          observer.connecting(clock.now());
          emit({ kind: 'connect', attempt, url: redactStreamUrl(url), lastEventId: lastEventId || null, t: since(clock.now()) });
        },
        onOpen: (open) => {
          observer.connectionOpened(open.t);
          emit({
            kind: 'open',
            status: open.status,
            headersMs: open.headersMs,
            contentType: open.headers['content-type'] ?? null,
            traceId: open.headers['x-trace-id'] ?? null,
            t: since(open.t),
          });
        },
        onEvent: (event) => {
          const gapMs = observer.event(event);
          emit({ kind: 'event', id: event.id ?? null, event: event.event ?? null, data: event.data, t: since(event.t), gapMs, heartbeat: event.event === 'heartbeat' });
        },
        onNotice: (notice) => {
          if (notice.kind === 'comment') {
            const gapMs = observer.comment(notice.t);
            emit({ kind: 'comment', text: notice.text, t: since(notice.t), gapMs });
          } else if (notice.kind !== 'retry' || !retryNoticed) {
            retryNoticed ||= notice.kind === 'retry';
            emit({ kind: 'diagnostic', level: notice.kind === 'retry' ? 'info' : 'warn', code: notice.kind, message: describeNotice(notice), t: since(notice.t) });
          }
        },
        onStreamEnd: (result) => {
          emit({ kind: 'end', how: result.end.kind, description: describeEnd(result.end), events: result.events, durationMs: result.endedAt - result.startedAt, t: since(result.endedAt) });
          observer.connectionEnded(result);
        },
        onDecision: (decision) => {
          if (decision.action === 'retry') {
            emit({ kind: 'reconnect', retry: decision.retry, maxRetries: profile.client.maxRetries, delayMs: decision.delayMs, reason: decision.reason, t: since(clock.now()) });
          } else {
            emit({ kind: 'stop', reason: decision.reason, gaveUp: decision.gaveUp, t: since(clock.now()) });
          }
        },
      },
    );
    if (session.unreachable) {
      throw new UnreachableError(`${target.streamUrl ? redactStreamUrl(target.streamUrl) : target.baseUrl}: ${session.unreachable.description}`);
    }
    const stats = observer.stats;
    const buffered = stats.heldBackMs !== undefined && stats.heldBackMs > heldBackLimitMs(profile.limits.heartbeatSeconds * 1000);
    const ok = session.lastEnd?.kind === 'clean-terminal' && !buffered;
    // A 400 means "already terminal": what a good client does next is ask how it ended.
    const finalAnswer = lastTokenStatus === 400 && generationId !== null ? await api.status(generationId, io.signal) : undefined;
    const finalState = finalAnswer?.ok ? finalAnswer.state : undefined;
    if (finalState) emit({ kind: 'diagnostic', level: 'info', code: 'final-status', message: `generation is ${finalState.status}${finalState.errorMessage ? `: ${finalState.errorMessage}` : ''}`, t: since(clock.now()) });
    emit({
      kind: 'summary',
      generationId,
      url: target.streamUrl ? redactStreamUrl(target.streamUrl) : api.url('stream', generationId ?? ''),
      durationMs: clock.now() - startedAt,
      events: stats.events,
      heartbeats: stats.heartbeats,
      longestGapMs: stats.longestGapMs,
      headersMs: stats.headersMs ?? null,
      firstEventMs: stats.firstEventMs ?? null,
      heldBackMs: stats.heldBackMs ?? null,
      idleTimeoutMs: stats.idleTimeoutMs ?? null,
      buffered,
      reconnects: session.retries,
      tokenRequests: session.tokenRequests,
      duplicates: stats.duplicates,
      missing: stats.missing,
      finalStatus: finalState?.status ?? stats.lastStatus ?? null,
      finalStage: stats.lastStage ?? null,
      ended: session.lastEnd?.kind ?? null,
      endedHow: session.lastEnd ? describeEnd(session.lastEnd) : 'never connected',
      stopReason: session.stop.reason,
      ok,
      interrupted: io.signal?.aborted === true,
    });
    if (io.signal?.aborted) return EXIT_CODES.interrupted;
    return ok ? EXIT_CODES.ok : EXIT_CODES.findings;
  } finally {
    await dispatcher.close();
  }
}

async function resolveSource(
  options: TailOptions,
  api: GenerationsApi,
  signal: AbortSignal | undefined,
): Promise<{ source: StreamSource; generationId: string | null }> {
  const { target } = options;
  if (target.streamUrl !== undefined) {
    if (options.generationId !== undefined) throw new UsageError('tail: give either a generation id or --url, not both');
    return { source: { kind: 'url', url: target.streamUrl }, generationId: null };
  }
  if (!target.profile.usesTokens) {
    return { source: { kind: 'url', url: api.url('stream') }, generationId: null };
  }
  if (options.generationId !== undefined) {
    return { source: { kind: 'token', api, generationId: options.generationId }, generationId: options.generationId };
  }
  const prompt = options.failing ? target.profile.fixtures.failingPrompt : target.profile.fixtures.completingPrompt;
  const created = await api.create(prompt, signal);
  if (!created.ok) throw answerError(created, 'create', api.url('create'), 'pass an existing id: sse-doctor tail <id>');
  return { source: { kind: 'token', api, generationId: created.id }, generationId: created.id };
}
