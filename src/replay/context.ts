import type { Dispatcher } from 'undici';
import type { SecretSink } from '../engine/secrets.js';
import { UnreachableError } from '../errors.js';
import type { Clock } from '../engine/clock.js';
import { createClientModel, type ClientChoice, type ClientModel } from '../engine/clientPolicy.js';
import { GenerationsApi, answerError, type TokenResult, type TokenSource } from '../engine/generationsApi.js';
import { waitForStatus } from '../engine/statusWait.js';
import type { SseEvent } from '../engine/sseDecoder.js';
import { StreamObserver } from '../engine/streamObserver.js';
import { runStreamSession } from '../engine/streamSession.js';
import type { TargetOptions } from '../engine/target.js';
import { startFaultProxy, type FaultProxy } from '../proxy/faultProxy.js';
import { metricsOf } from './metrics.js';
import type { ObservedSession, ReplaySettings, ScenarioContext } from './scenario.js';

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
  const api = new GenerationsApi(target, { dispatcher, clock, secrets: dependencies.secrets });
  const proxies: FaultProxy[] = [];
  const maxDurationMs = settings.maxDurationMs ?? profile.limits.generationTimeoutSeconds * 1000;

  const clientModel = (choice: ClientChoice): ClientModel => createClientModel(choice, profile.client, clock);

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
      if (!created.ok) throw answerError(created, 'create', api.url('create'), "check --auth and the profile's paths");
      return created.id;
    },

    async waitForStatus(id, statuses) {
      const wait = await waitForStatus(api, id, statuses, { clock, signal, deadline: clock.now() + maxDurationMs });
      if (wait.reached) return wait.state.status;
      if (wait.why === 'answer') throw answerError(wait.answer, 'status', api.url('status', id), "check --auth and the profile's paths");
      return wait.last?.status;
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
      return heldToken(api, generationId, await api.requestToken(generationId, { signal }));
    },

    apiThrough(proxy) {
      const proxied = new GenerationsApi({ ...target, baseUrl: proxy.url }, { dispatcher, clock });
      return streamsThroughProxy(proxied, new URL(target.baseUrl).origin, new URL(proxy.url).origin);
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
 * Tokens from the API seen through the fault proxy. A relative `stream_url` already resolves
 * against the proxy; an absolute one naming the target is pointed at the proxy too, or the stream
 * would bypass it. Nothing else changes.
 */
function streamsThroughProxy(proxied: TokenSource, targetOrigin: string, proxyOrigin: string): TokenSource {
  return {
    async requestToken(id, options) {
      const result = await proxied.requestToken(id, options);
      if (!result.ok) return result;
      const url = new URL(result.token.streamUrl);
      if (url.origin !== targetOrigin) return result;
      return { ...result, token: { ...result.token, streamUrl: proxyOrigin + url.pathname + url.search } };
    },
  };
}

/** Tokens with one already fetched: the first request for that generation gets it, the rest go to `tokens`. */
function heldToken(tokens: TokenSource, generationId: string, held: TokenResult): TokenSource {
  let kept: TokenResult | undefined = held;
  return {
    requestToken(id, options) {
      if (kept === undefined || id !== generationId) return tokens.requestToken(id, options);
      const answer = kept;
      kept = undefined;
      return Promise.resolve(answer);
    },
  };
}
