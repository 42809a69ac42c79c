import { setMaxListeners } from 'node:events';
import type { Dispatcher } from 'undici';
import { clientLabel, createClientModel, type PolicyDecision } from '../engine/clientPolicy.js';
import { systemClock, type Clock } from '../engine/clock.js';
import { errorCode, requestTarget, transportFailureKind, type StreamEnd, type StreamOpen, type StreamResult } from '../engine/connection.js';
import { GenerationsApi, type TokenResult } from '../engine/generationsApi.js';
import { redactStreamUrl } from '../engine/secrets.js';
import type { SseEvent, SseNotice } from '../engine/sseDecoder.js';
import { runStreamSession, sessionTarget, type SessionCallbacks } from '../engine/streamSession.js';
import { ClientConnections } from './connections.js';
import type { LoadPart, LoadSettings } from './part.js';
import type { LoadPlan } from './plan.js';
import { LoadRecorder, type LoadSnapshot } from './recorder.js';

export interface LoadRunOptions {
  readonly clock?: Clock;
  /** Stops the run early (Ctrl-C); what ran is still reported. */
  readonly signal?: AbortSignal;
  /** Once a second, for the ticker. */
  readonly onSecond?: (snapshot: LoadSnapshot) => void;
  /** As each stream opens, with how many are open now: lets a benchmark time how fast N open. */
  readonly onStreamOpened?: (open: number) => void;
}

/**
 * Clients share an abort signal in blocks of this many: one signal with 10,000 listeners makes
 * every removal a walk of the whole list (Node's EventTarget), which would turn a big run quadratic.
 */
const CLIENTS_PER_SIGNAL = 64;
/**
 * How long a client waits before its next flow when the last one got no answer at all (refused,
 * unreachable): failures that come back without any I/O wait would otherwise loop on the
 * microtask queue and starve every timer, the run's deadline included.
 */
const NO_ANSWER_PAUSE_MS = 1000;
/** Past the request timeouts, so that a request that timed out is counted before the run ends without it. */
const TIMEOUT_MARGIN_MS = 1000;
/** Clients (and the open model's arrivals) cycle over this many signals, so a long run does not keep adding them. */
const SHARED_SIGNALS = 256;

/** What one virtual client (or one arrival of the open model) runs with. */
interface ClientSlot {
  readonly signal: AbortSignal;
  readonly dispatcher: Dispatcher;
  readonly api: GenerationsApi;
}

/**
 * Runs one process's share of a load test: virtual clients (closed or open model) each running
 * the full flow through `runStreamSession` with a client model, or a token-spam loop, all over
 * one undici Agent. Returns a part that merges exactly with other processes' and shards'.
 */
export async function runLoad(plan: LoadPlan, options: LoadRunOptions = {}): Promise<LoadPart> {
  const clock = options.clock ?? systemClock;
  const { target } = plan;
  const { profile } = target;
  const recorder = new LoadRecorder(clock.now, options.onSecond);
  const api = new GenerationsApi(target, undefined);
  const run = new AbortController();
  setMaxListeners(0, run.signal);
  const onOuterAbort = () => run.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  // The run ends at its duration, but never before its first answer or failure (bounded by the
  // timeouts): a run too short for a request to come back could not tell a target that speaks
  // garbage (exit 3) from one that answers slowly, and its exit code would be a race.
  let firstOutcomeBound: NodeJS.Timeout | undefined;
  const end = () => {
    clearTimeout(firstOutcomeBound);
    run.abort();
  };
  const deadline = setTimeout(() => {
    firstOutcomeBound = setTimeout(end, target.connectTimeoutMs + target.headersTimeoutMs + TIMEOUT_MARGIN_MS);
    recorder.onFirstOutcome(end);
  }, plan.durationMs);
  const startedAt = clock.now();
  const endsAt = startedAt + plan.durationMs;
  const budget = new RequestBudget(plan.maxRequests);
  const signals: AbortSignal[] = [];
  const signalOf = (client: number): AbortSignal => {
    const index = Math.floor(client / CLIENTS_PER_SIGNAL) % SHARED_SIGNALS;
    let signal = signals[index];
    if (signal === undefined) {
      const controller = new AbortController();
      setMaxListeners(0, controller.signal);
      if (run.signal.aborted) controller.abort();
      else run.signal.addEventListener('abort', () => controller.abort(), { once: true });
      signal = controller.signal;
      signals[index] = signal;
    }
    return signal;
  };

  const directUrl = target.streamUrl ?? (profile.usesTokens ? undefined : api.url('stream'));
  const connections = new ClientConnections(directUrl ?? target.baseUrl, target.connectTimeoutMs, plan.sourceNetwork);
  const slotOf = (client: number, dispatcher: Dispatcher): ClientSlot => ({ signal: signalOf(client), dispatcher, api: new GenerationsApi(target, { dispatcher, clock }) });
  let nextIdIndex = 0;
  const nextGenerationId = async ({ api, signal }: ClientSlot, ticket: BudgetTicket): Promise<string | undefined> => {
    if (plan.ids !== undefined) return plan.ids[nextIdIndex++ % plan.ids.length];
    ticket.spend();
    recorder.counters.createRequests++;
    const created = await api.create(profile.fixtures.completingPrompt, signal);
    if ('failure' in created) {
      if (!signal.aborted) recorder.error(`create-${created.failure.failure}`);
      return undefined;
    }
    recorder.answer('create', created.exchange.status);
    if (!created.ok) {
      recorder.error(`create-${created.exchange.status}`);
      return undefined;
    }
    return created.id;
  };

  const flowContext: FlowContext = { recorder, clock, runSignal: run.signal, onStreamOpened: options.onStreamOpened };
  // The generic profile's sessions differ only in their client model and bounds: their target is built once.
  const urlTarget = directUrl === undefined ? undefined : sessionTarget(target, api, { kind: 'url', url: directUrl });

  /**
   * A virtual client's flows: a generation, then the session until the client model stops; and
   * again until the run ends (`repeat`, the closed model) or just once (an arrival of the open
   * model). False when the request budget leaves no room for another flow. One loop in one frame:
   * a run holds one of these suspended for every open stream.
   */
  const clientFlows = async (slot: ClientSlot, firstIntendedStart: number, repeat: boolean): Promise<boolean> => {
    const requestsPerAttempt = (directUrl === undefined ? 1 : 0) + 1;
    let intendedStart = firstIntendedStart;
    for (;;) {
      const ticket = budget.reserve(requestsPerAttempt + (directUrl === undefined && plan.ids === undefined ? 1 : 0));
      if (ticket === undefined) return false;
      recorder.counters.flows++;
      try {
        const generationId = urlTarget === undefined ? await nextGenerationId(slot, ticket) : undefined;
        const sessionTargetOptions = generationId === undefined ? urlTarget : sessionTarget(target, slot.api, { kind: 'token', api: slot.api, generationId });
        // No generation (the create failed) or a session that never reached the server: starting over at once would spin.
        let pause = sessionTargetOptions === undefined;
        if (sessionTargetOptions !== undefined) {
          const session = await runStreamSession(
            {
              ...sessionTargetOptions,
              model: createClientModel(plan.client, profile.client),
              dispatcher: slot.dispatcher,
              clock,
              signal: slot.signal,
              maxAttempts: budget.attemptsLeft(requestsPerAttempt),
              maxDurationMs: Math.max(0, endsAt - clock.now()),
            },
            new FlowMeasures(flowContext, ticket, intendedStart),
          );
          pause = session.unreachable !== undefined;
        }
        if (pause) await clock.sleep(NO_ANSWER_PAUSE_MS, slot.signal);
      } finally {
        ticket.release();
      }
      // The clock is checked too: flows that end without I/O (a session past its time bound)
      // would otherwise loop on the microtask queue before the deadline timer can fire.
      if (!repeat || run.signal.aborted || clock.now() >= endsAt) return true;
      intendedStart = clock.now();
    }
  };

  /**
   * Token spam: one generation, then token requests back to back (closed) or one per arrival
   * (open). Only the status and the time count here, so the body is drained unread: the point
   * is to press the endpoint as hard as a bare undici loop would.
   */
  let sharedSpamId: Promise<string | undefined> | undefined;
  const tokenHeaders = api.headers();
  // Built once per generation and reused by every request: undici would otherwise parse the URL
  // each time, and the spam loop spends its time building requests, not waiting for them.
  const tokenRequestOf = (generationId: string): Dispatcher.RequestOptions => ({
    ...requestTarget(api.url('token', generationId)),
    method: 'POST',
    headers: tokenHeaders,
    headersTimeout: target.headersTimeoutMs,
    bodyTimeout: target.headersTimeoutMs,
  });
  const spamOnce = async (
    tokenRequest: Dispatcher.RequestOptions,
    { dispatcher }: ClientSlot,
    intendedStart: number | undefined,
  ): Promise<boolean> => {
    const ticket = budget.reserve(1);
    if (ticket === undefined) return false;
    const sentAt = clock.now();
    recorder.counters.tokenRequests++;
    ticket.spend();
    try {
      // No abort signal: a token request is short and bounded by the timeouts, and one listener
      // per request on a shared signal costs more than the request itself at these rates.
      const response = await dispatcher.request(tokenRequest);
      await response.body.dump();
      recorder.latency('tokenRequest', clock.now() - (intendedStart ?? sentAt));
      recorder.answer('token', response.statusCode);
      if (response.statusCode >= 300 && response.statusCode !== 429) recorder.error(`token-${response.statusCode}`);
    } catch (error) {
      recorder.error(`token-${transportFailureKind(errorCode(error), true)}`);
    }
    return true;
  };
  const spamClosed = async (slot: ClientSlot) => {
    const ticket = budget.reserve(plan.ids === undefined ? 1 : 0);
    if (ticket === undefined) return;
    recorder.counters.flows++;
    const generationId = await nextGenerationId(slot, ticket);
    ticket.release();
    if (generationId === undefined) return;
    const tokenRequest = tokenRequestOf(generationId);
    while (!slot.signal.aborted && clock.now() < endsAt && (await spamOnce(tokenRequest, slot, undefined)));
  };
  // Token spam arrivals share one pool (a connection per request would measure connect(), not the
  // endpoint), so they share one slot too.
  let spamSlot: ClientSlot | undefined;
  const spamArrival = async (intendedStart: number): Promise<boolean> => {
    const slot = (spamSlot ??= slotOf(0, connections.shared));
    if (sharedSpamId === undefined) {
      const ticket = budget.reserve(plan.ids === undefined ? 1 : 0);
      sharedSpamId = ticket === undefined ? Promise.resolve(undefined) : nextGenerationId(slot, ticket);
    }
    const generationId = plan.ids !== undefined ? plan.ids[nextIdIndex++ % plan.ids.length] : await sharedSpamId;
    if (generationId === undefined) return false;
    recorder.counters.flows++;
    return spamOnce(tokenRequestOf(generationId), slot, intendedStart);
  };

  /** An arrival of the open model: a new client with its own connection, for one flow. */
  const arrivingClient = async (arrival: number, intendedStart: number): Promise<boolean> => {
    const dispatcher = connections.connect(arrival);
    try {
      return await clientFlows(slotOf(arrival, dispatcher), intendedStart, false);
    } finally {
      await connections.release(dispatcher);
    }
  };

  recorder.start();
  try {
    if (plan.arrival.kind === 'closed') {
      const { clients } = plan.arrival;
      const startClient = (client: number): Promise<unknown> | undefined => {
        // The first client always starts, however late: a run never ends without asking the target once (see the deadline).
        if (run.signal.aborted || (client > 0 && clock.now() >= endsAt)) return undefined;
        const slot = slotOf(client, connections.connect(client));
        return plan.mode === 'token-spam' ? spamClosed(slot) : clientFlows(slot, clock.now(), true);
      };
      // Not an async function: the client's own promise is what the run waits on, with no promise
      // in between to adopt it (one more promise, reaction and pair of closures per open stream).
      const closedClient = (client: number): Promise<unknown> | undefined => {
        const startDelay = clients > 1 ? (plan.rampMs * client) / clients : 0;
        return startDelay > 0 ? clock.sleep(startDelay, run.signal).then(() => startClient(client)) : startClient(client);
      };
      await Promise.all(Array.from({ length: clients }, (_, client) => closedClient(client)));
    } else {
      const { ratePerSecond } = plan.arrival;
      const inFlight = new Set<Promise<unknown>>();
      let more = true;
      for (let arrival = 0; more && !run.signal.aborted; arrival++) {
        const intendedStart = startedAt + intendedArrivalMs(arrival, ratePerSecond, plan.rampMs);
        if (intendedStart >= endsAt) break;
        const wait = intendedStart - clock.now();
        if (wait > 0) await clock.sleep(wait, run.signal);
        if (run.signal.aborted) break;
        const flow = plan.mode === 'token-spam' ? spamArrival(intendedStart) : arrivingClient(arrival, intendedStart);
        inFlight.add(flow);
        void flow.then((started) => {
          inFlight.delete(flow);
          if (!started) more = false;
        });
      }
      await Promise.all(inFlight);
    }
  } finally {
    clearTimeout(deadline);
    clearTimeout(firstOutcomeBound);
    options.signal?.removeEventListener('abort', onOuterAbort);
    await connections.destroyAll();
  }
  const settings: LoadSettings = {
    mode: plan.mode,
    arrival: plan.arrival.kind,
    clients: plan.arrival.kind === 'closed' ? plan.arrival.clients : 0,
    ratePerSecond: plan.arrival.kind === 'open' ? plan.arrival.ratePerSecond : 0,
    client: clientLabel(plan.client),
    target: directUrl !== undefined ? redactStreamUrl(directUrl) : target.baseUrl,
  };
  return recorder.finish(settings, options.signal?.aborted === true);
}

/**
 * When the k-th arrival (0-based) of an open model is due, in ms from the start: a rate that
 * grows linearly from 0 to `ratePerSecond` over `rampMs`, then stays. Fixed in advance, so a
 * slow server cannot push the schedule back (no coordinated omission).
 */
export function intendedArrivalMs(k: number, ratePerSecond: number, rampMs: number): number {
  const perMs = ratePerSecond / 1000;
  const arrivalsDuringRamp = (perMs * rampMs) / 2;
  if (k < arrivalsDuringRamp) return Math.sqrt((2 * rampMs * k) / perMs);
  return rampMs + (k - arrivalsDuringRamp) / perMs;
}

/** How a stream's end counts among the errors; undefined for a normal end. */
export function errorKind(end: StreamEnd): string | undefined {
  switch (end.kind) {
    // A load session's duration bound is the run's own end (see `maxDurationMs` above): the stream did nothing wrong.
    case 'max-duration':
    case 'clean-terminal':
    case 'aborted':
      return undefined;
    case 'http-error':
      return end.status === 429 ? undefined : `http-${end.status}`;
    case 'timeout':
      return `timeout-${end.phase}`;
    case 'clean-no-terminal':
      return 'closed-without-terminal';
    default:
      return end.kind;
  }
}

/** Ends where the stream was still open when it stopped, so the silence it was in had not ended. */
const STOPPED_WHILE_OPEN: readonly StreamEnd['kind'][] = ['aborted', 'silence', 'max-duration'];

/** What every flow of a run records into. */
interface FlowContext {
  readonly recorder: LoadRecorder;
  readonly clock: Clock;
  /** The whole run's signal: failures after it aborted are the run ending, not errors. */
  readonly runSignal: AbortSignal;
  readonly onStreamOpened: ((open: number) => void) | undefined;
}

/**
 * One flow's measurements, as its session's callbacks. State sits in fields of one object per
 * flow, not in closures: a run holds as many of these as it has open streams.
 */
class FlowMeasures implements SessionCallbacks {
  private firstOfFlow = true;
  private firstTokenOfFlow = true;
  private connectedAt = 0;
  private lastArrival = 0;
  private eventOnConnection = false;
  private streamIsOpen = false;

  constructor(
    private readonly context: FlowContext,
    private readonly ticket: BudgetTicket,
    /** When the client should have started (under --rate, the schedule's time, not the actual one). */
    private readonly intendedStart: number,
  ) {}

  onTokenResult(result: TokenResult): void {
    const { recorder, clock } = this.context;
    // Under --rate the first token of a flow counts from when the client should have arrived.
    const latencyMs = this.firstTokenOfFlow ? clock.now() - this.intendedStart : 'failure' in result ? 0 : result.exchange.latencyMs;
    this.firstTokenOfFlow = false;
    recorder.counters.tokenRequests++;
    this.ticket.spend();
    if ('failure' in result) {
      if (!this.context.runSignal.aborted) recorder.error(`token-${result.failure.failure}`);
      return;
    }
    recorder.latency('tokenRequest', latencyMs);
    const { status } = result.exchange;
    recorder.answer('token', status);
    if (!result.ok && status !== 429) recorder.error(`token-${status}`);
  }

  onConnecting(): void {
    this.context.recorder.counters.connections++;
    this.ticket.spend();
    this.connectedAt = this.context.clock.now();
    this.lastArrival = 0;
    this.eventOnConnection = false;
  }

  onOpen(open: StreamOpen): void {
    const { recorder, onStreamOpened } = this.context;
    recorder.answer('stream', open.status);
    recorder.latency('headers', open.headersMs);
    if (open.status === 200 && /^text\/event-stream\b/i.test(open.headers['content-type'] ?? '')) {
      this.streamIsOpen = true;
      recorder.streamOpened();
      onStreamOpened?.(recorder.open);
    }
  }

  onEvent(event: SseEvent): void {
    const { recorder } = this.context;
    recorder.counters.events++;
    if (!this.eventOnConnection) recorder.latency('firstEvent', event.t - (this.firstOfFlow ? this.intendedStart : this.connectedAt));
    this.eventOnConnection = true;
    this.firstOfFlow = false;
    this.arrived(event.t);
  }

  onNotice(notice: SseNotice): void {
    if (notice.kind !== 'comment') return;
    this.context.recorder.counters.comments++;
    this.arrived(notice.t);
  }

  onStreamEnd(result: StreamResult): void {
    const { recorder } = this.context;
    if (this.streamIsOpen) {
      this.streamIsOpen = false;
      recorder.streamClosed();
      // A silence still open when the stream was stopped (the run's end, a watchdog, the duration
      // bound) is a gap too: a stream silent for the run's last seconds must count as silent.
      if (STOPPED_WHILE_OPEN.includes(result.end.kind) && result.open) recorder.latency('gap', result.endedAt - (this.lastArrival > 0 ? this.lastArrival : result.open.t));
      // A stream cut by the end of the run would only drag the durations down.
      if (result.open && result.end.kind !== 'aborted' && result.end.kind !== 'max-duration') recorder.latency('streamDuration', result.endedAt - result.open.t);
    }
    const kind = errorKind(result.end);
    if (kind !== undefined) recorder.error(kind);
  }

  onDecision(decision: PolicyDecision): void {
    if (decision.action === 'retry') this.context.recorder.counters.reconnects++;
  }

  /** An event or a comment: the gap since the one before on this connection. */
  private arrived(t: number): void {
    if (this.lastArrival > 0) this.context.recorder.latency('gap', t - this.lastArrival);
    this.lastArrival = t;
  }
}

/**
 * `--max-requests`: a flow starts only when the requests made plus those reserved for flows in
 * progress leave room for its first attempt, so the number of flows is deterministic when nothing
 * fails (retries in a flow already running may still spend what is left).
 */
class RequestBudget {
  used = 0;
  reserved = 0;

  constructor(readonly limit: number | undefined) {}

  /** Holds `requests` for a flow about to start; undefined when the bound leaves no room. */
  reserve(requests: number): BudgetTicket | undefined {
    if (this.limit !== undefined && this.used + this.reserved + requests > this.limit) return undefined;
    this.reserved += requests;
    return new BudgetTicket(this, requests);
  }

  /** Session attempts a flow may make: its reserved first one plus what no one holds. */
  attemptsLeft(requestsPerAttempt: number): number | undefined {
    if (this.limit === undefined) return undefined;
    return 1 + Math.floor(Math.max(0, this.limit - this.used - this.reserved) / requestsPerAttempt);
  }
}

/** One flow's hold on the budget: requests it makes are drawn from its reservation first. */
class BudgetTicket {
  constructor(
    private readonly budget: RequestBudget,
    private held: number,
  ) {}

  spend(): void {
    this.budget.used++;
    if (this.held > 0) {
      this.held--;
      this.budget.reserved--;
    }
  }

  release(): void {
    this.budget.reserved -= this.held;
    this.held = 0;
  }
}
