import type { Clock } from '../engine/clock.js';
import type { ClientChoice, ClientModel, ClientModelName } from '../engine/clientPolicy.js';
import type { GenerationsApi, TokenSource } from '../engine/generationsApi.js';
import type { SseEvent } from '../engine/sseDecoder.js';
import type { ObservedStats } from '../engine/streamObserver.js';
import type { SessionCallbacks, SessionResult } from '../engine/streamSession.js';
import type { Profile, TargetOptions } from '../engine/target.js';
import type { FaultProxy, FaultProxyCallbacks, FaultRules } from '../proxy/faultProxy.js';
import type { ReplayMetrics } from './metrics.js';

/** One thing a scenario expected, and what it saw instead (or indeed). */
export interface Expectation {
  readonly name: string;
  readonly met: boolean;
  readonly expected: string;
  readonly observed: string;
}

/** What one scenario run with one client model produced. */
export interface ScenarioRun {
  readonly expectations: readonly Expectation[];
  readonly metrics: ReplayMetrics;
  /** Scenario-specific figures (where the first 429 came, Retry-After, time to recover…). */
  readonly details: Readonly<Record<string, string | number | boolean | null>>;
}

/** How a network cut is made: after N events or T ms, with a FIN or a reset. */
export interface CutSettings {
  readonly afterEvents: number | undefined;
  readonly afterMs: number | undefined;
  readonly reset: boolean;
}

/** The bounds and knobs of a replay, from the command line; every loop is bounded by them. */
export interface ReplaySettings {
  /** Client models to run; undefined: the scenario's defaults, side by side. */
  readonly clients: readonly ClientChoice[] | undefined;
  /** Most requests (token requests and stream connections) one client may send. */
  readonly maxRequests: number;
  /** Longest one client may run (ms); undefined: the scenario's own default. */
  readonly maxDurationMs: number | undefined;
  /** How many token requests rate-limit-spam sends. */
  readonly requests: number;
  /** The rate of those requests, per second. */
  readonly ratePerSecond: number;
  /** Wait out the rate-limit window and check that requests succeed again. */
  readonly slow: boolean;
  readonly cut: CutSettings;
}

/** Safe for a shared staging server: a storm stops at 200 requests or 20 s, a spam at 30 requests. */
export const DEFAULT_REPLAY_SETTINGS: ReplaySettings = Object.freeze({
  clients: undefined,
  maxRequests: 200,
  maxDurationMs: undefined,
  requests: 30,
  ratePerSecond: 10,
  slow: false,
  // The connected event and the first progress: cut later, and a generation may finish during the
  // robust client's first backoff (2 s), so its next token request is refused with 400.
  cut: Object.freeze({ afterEvents: 2, afterMs: undefined, reset: false }),
});

/** One client's session with everything a scenario judges it by. */
export interface ObservedSession {
  readonly session: SessionResult;
  readonly observed: ObservedStats;
  /** Every event the client received, in order, with its arrival time. */
  readonly events: readonly SseEvent[];
  /** Decisions to retry that asked for a resume (Last-Event-ID). */
  readonly resumes: number;
}

export interface SessionRunOptions {
  /** Another API (one routed through the fault proxy, say); the context's by default. */
  readonly api?: TokenSource;
  readonly maxAttempts?: number;
  readonly maxDurationMs?: number;
  readonly callbacks?: SessionCallbacks;
}

/** What a scenario gets to work with: the target, the shared engines, the bounds. */
export interface ScenarioContext {
  readonly target: TargetOptions;
  readonly profile: Profile;
  readonly api: GenerationsApi;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly settings: ReplaySettings;
  /** Default bound on one client's run (ms): `--max-duration`, else the profile's generation timeout. */
  readonly maxDurationMs: number;
  /** Creates a generation with the profile's completing or failing prompt and returns its id. */
  createGeneration(kind: 'completing' | 'failing'): Promise<string>;
  /** Polls the status endpoint until the status is one of `statuses` (bounded); returns the last status seen. */
  waitForStatus(id: string, statuses: readonly string[]): Promise<string | undefined>;
  /** A fresh instance of a client model, with the profile's client numbers. */
  clientModel(choice: ClientChoice): ClientModel;
  /** One client following generation `id` (token, stream, policy, again), observed. */
  runSession(client: ClientChoice | ClientModel, generationId: string, options?: SessionRunOptions): Promise<ObservedSession>;
  /** Starts the fault proxy in front of the target; it closes when the run ends. */
  startProxy(rules: FaultRules, callbacks?: FaultProxyCallbacks): Promise<FaultProxy>;
  /**
   * Asks for a stream token for `generationId` now and returns a token source whose first request
   * for it answers with that token: a client that fetched its token before the generation failed.
   */
  holdToken(generationId: string): Promise<TokenSource>;
  /** Tokens from the context's API routed through `proxy`, with their streams routed through it too. */
  apiThrough(proxy: FaultProxy): TokenSource;
  /** Metrics of a session, in the report's shape. */
  measure(observed: ObservedSession): ReplayMetrics;
}

/** A replayed incident: a few lines on the shared engines. The default export of a scenario module. */
export interface Scenario {
  readonly name: string;
  /** One line for `replay --list`. */
  readonly description: string;
  /** The client models run side by side when `--client` is not given. */
  readonly defaultClients: readonly ClientModelName[];
  run(ctx: ScenarioContext, client: ClientChoice): Promise<ScenarioRun>;
}

/** A report row: one scenario, one client model, a verdict. */
export interface ReplayReport {
  readonly scenario: string;
  /** The client model's name, or `measured (FILE)`. */
  readonly client: string;
  /** `fail` when an expectation is missed, or when the run was interrupted (it measured less than asked). */
  readonly verdict: 'pass' | 'fail';
  /** Ctrl-C stopped the run before this client finished: the report covers what ran, and is not a pass. */
  readonly interrupted: boolean;
  readonly expectations: readonly Expectation[];
  readonly metrics: ReplayMetrics;
  readonly details: ScenarioRun['details'];
}

/** Builds an expectation; `met` last so the call reads like the sentence it reports. */
export function expectation(name: string, expected: string, observed: string, met: boolean): Expectation {
  return { name, met, expected, observed };
}
