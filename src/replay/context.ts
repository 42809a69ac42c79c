import type { Dispatcher } from 'undici';
import { describeTransportFailure } from '../engine/connection.js';
import type { SecretSink } from '../engine/secrets.js';
import { DoctorError, UnreachableError } from '../errors.js';
import type { Clock } from '../engine/clock.js';
import { createClientModel, type ClientChoice, type ClientModel } from '../engine/clientPolicy.js';
import { GenerationsApi, detailOf, type TokenResult } from '../engine/generationsApi.js';
import { isHttpFailure } from '../engine/http.js';
import type { SseEvent } from '../engine/sseDecoder.js';
import { StreamObserver } from '../engine/streamObserver.js';
import { runStreamSession } from '../engine/streamSession.js';
import type { TargetOptions } from '../engine/target.js';
import { startFaultProxy, type FaultProxy } from '../proxy/faultProxy.js';
import { metricsOf } from './metrics.js';
import type { ObservedSession, ReplaySettings, ScenarioContext } from './scenario.js';

/** How often `waitForStatus` polls: often enough for fast test timings, rare enough for staging. */
const STATUS_POLL_MS = 100;

/** A scenario context and the cleanup that closes what its scenarios started (fault proxies). */
export interface ScenarioContextHandle {
  readonly context: ScenarioContext;
  close(): Promise<void>;
}

export function createScenarioContext(
  target: TargetOptions,
  settings: ReplaySettings,
  dependencies: { readonly dispatcher: Dispatcher; readonly clock: Clock; readonly signal: AbortSignal; readonly secrets?: SecretSink },
): ScenarioContextHandle {
  const { dispatcher, clock, signal } = dependencies;
  const { profile } = target;
  const api = new GenerationsApi(target, dispatcher, dependencies.secrets);
  const proxies: FaultProxy[] = [];
  const maxDurationMs = settings.maxDurationMs ?? profile.limits.generationTimeoutSeconds * 1000;

  const clientModel = (choice: ClientChoice): ClientModel => createClientModel(choice, profile.client);

  const context: ScenarioContext = {
    target,
    profile,
    api,
    clock,
    signal,
    settings,
    maxDurationMs,
    clientModel,

    async createGeneration(kind) {
      const prompt = kind === 'failing' ? profile.fixtures.failingPrompt : profile.fixtures.completingPrompt;
      const created = await api.create(prompt, signal);
      if (isHttpFailure(created)) {
        throw new UnreachableError(`${api.url('create')}: ${describeTransportFailure(created.failure, created.code)}`);
      }
      const id = (created.json as { id?: unknown } | undefined)?.id;
      if (created.status >= 300 || (typeof id !== 'string' && typeof id !== 'number')) {
        throw new DoctorError('E_SCENARIO', `could not create a generation: ${api.url('create')} answered ${created.status} ${detailOf(created)} (check --auth and the profile's paths)`);
      }
      return String(id);
    },

    async waitForStatus(id, statuses) {
      const deadline = clock.now() + maxDurationMs;
      let last: string | undefined;
      while (!signal.aborted && clock.now() < deadline) {
        const answer = await api.status(id, signal);
        if (!isHttpFailure(answer)) {
          const status = (answer.json as { status?: unknown } | undefined)?.status;
          if (typeof status === 'string') last = status;
          if (last !== undefined && statuses.includes(last)) return last;
        }
        await clock.sleep(STATUS_POLL_MS, signal);
      }
      return last;
    },

    async runSession(client, generationId, options = {}) {
      const model = typeof client === 'string' || !('decide' in client) ? clientModel(client) : client;
      const observer = new StreamObserver(profile.limits.heartbeatSeconds * 1000);
      const events: SseEvent[] = [];
      let resumes = 0;
      const callbacks = options.callbacks ?? {};
      const session = await runStreamSession(
        {
          source: { kind: 'token', api: options.api ?? api, generationId },
          model,
          profile,
          streamHeaders: target.headers,
          maxLineBytes: target.maxLineBytes,
          headersTimeoutMs: target.headersTimeoutMs,
          dispatcher,
          clock,
          signal,
          maxAttempts: options.maxAttempts ?? settings.maxRequests,
          maxDurationMs: options.maxDurationMs ?? maxDurationMs,
        },
        {
          ...callbacks,
          onOpen: (open) => {
            observer.connectionOpened(open.t);
            callbacks.onOpen?.(open);
          },
          onEvent: (event) => {
            observer.event(event);
            events.push(event);
            callbacks.onEvent?.(event);
          },
          onNotice: (notice) => {
            if (notice.kind === 'comment') observer.comment(notice.t);
            callbacks.onNotice?.(notice);
          },
          onDecision: (decision) => {
            if (decision.action === 'retry' && decision.resume) resumes++;
            callbacks.onDecision?.(decision);
          },
        },
      );
      if (session.unreachable) {
        throw new UnreachableError(`${target.baseUrl}: ${session.unreachable.description}`);
      }
      return { session, observed: observer.stats, events, resumes };
    },

    async startProxy(rules, callbacks) {
      const proxy = await startFaultProxy({ target: target.baseUrl, rules, clock }, callbacks);
      proxies.push(proxy);
      return proxy;
    },

    async holdToken(generationId) {
      return new HeldTokenApi(target, dispatcher, generationId, await api.requestToken(generationId, { signal }));
    },

    apiThrough(proxy) {
      return new ProxiedGenerationsApi({ ...target, baseUrl: proxy.url }, dispatcher, new URL(target.baseUrl).origin, new URL(proxy.url).origin);
    },

    measure(observed: ObservedSession) {
      const { session } = observed;
      return metricsOf({
        retries: session.retries,
        tokenRequests: session.tokenRequests,
        responses: session.responses,
        streams: session.streams,
        duplicates: observed.observed.duplicates,
        missing: observed.observed.missing,
        startedAt: session.startedAt,
        endedAt: session.endedAt,
        terminalAt: session.streams.find((stream) => stream.terminalEvent !== undefined)?.terminalEvent?.t,
      });
    },
  };

  return {
    context,
    close: async () => {
      await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
    },
  };
}

/**
 * The API seen through the fault proxy. A relative `stream_url` already resolves against the
 * proxy; an absolute one naming the target is pointed at the proxy too, or the stream would
 * bypass it. Nothing else changes.
 */
class ProxiedGenerationsApi extends GenerationsApi {
  constructor(
    target: TargetOptions,
    dispatcher: Dispatcher,
    private readonly targetOrigin: string,
    private readonly proxyOrigin: string,
  ) {
    super(target, dispatcher);
  }

  override async requestToken(id: string, options: Parameters<GenerationsApi['requestToken']>[1] = {}): Promise<TokenResult> {
    const result = await super.requestToken(id, options);
    if (!result.ok) return result;
    const url = new URL(result.token.streamUrl);
    if (url.origin !== this.targetOrigin) return result;
    return { ...result, token: { ...result.token, streamUrl: this.proxyOrigin + url.pathname + url.search } };
  }
}

/** The API with one token already fetched: the first request for that generation gets it. */
class HeldTokenApi extends GenerationsApi {
  private held: TokenResult | undefined;

  constructor(
    target: TargetOptions,
    dispatcher: Dispatcher,
    private readonly generationId: string,
    held: TokenResult,
  ) {
    super(target, dispatcher);
    this.held = held;
  }

  override async requestToken(id: string, options: Parameters<GenerationsApi['requestToken']>[1] = {}): Promise<TokenResult> {
    const held = this.held;
    if (held === undefined || id !== this.generationId) return super.requestToken(id, options);
    this.held = undefined;
    return held;
  }
}
