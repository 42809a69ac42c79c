import { createClientModel } from '../engine/clientPolicy.js';
import { terminalEventTest } from '../engine/contractEvents.js';
import { GenerationsApi } from '../engine/generationsApi.js';
import type { SseEvent } from '../engine/sseDecoder.js';
import { runStreamSession, sessionTarget, type SessionOptions } from '../engine/streamSession.js';
import { clientSlot, type ClientSlot, type FlowRun, type LoadFlow } from './flow.js';
import { FlowMeasures, type FlowContext } from './measures.js';

/**
 * How long a client waits before its next flow when the last one got no answer at all (refused,
 * unreachable): failures that come back without any I/O wait would otherwise loop on the
 * microtask queue and starve every timer, the run's deadline included.
 */
const NO_ANSWER_PAUSE_MS = 1000;

/**
 * The stream flow: a generation (unless the stream's URL is fixed: `--url`, the generic
 * profile), then one session of the client model until the model stops. The model is a built-in
 * one or one measured by `analyze --client-model`, replayed here: the session runs either alike.
 */
export class StreamFlow implements LoadFlow {
  private readonly measures: FlowContext;
  /** The session target of a fixed stream URL, built once: such sessions differ only in their client model and bounds. */
  private readonly urlTarget: Pick<SessionOptions, 'source' | 'profile' | 'streamHeaders' | 'maxLineBytes' | 'headersTimeoutMs'> | undefined;
  /** The profile's terminal test, built once for every session of the run. */
  private readonly isTerminal: (event: SseEvent) => boolean;
  /** Requests one session attempt makes: the token request, unless the URL is fixed, and the stream. */
  private readonly requestsPerAttempt: number;

  constructor(
    private readonly run: FlowRun,
    api: GenerationsApi,
    directUrl: string | undefined,
    onStreamOpened: ((open: number) => void) | undefined,
  ) {
    this.measures = { recorder: run.recorder, clock: run.clock, runSignal: run.deadline.signal, onStreamOpened };
    this.urlTarget = directUrl === undefined ? undefined : sessionTarget(run.plan.target, api, { kind: 'url', url: directUrl });
    this.requestsPerAttempt = (directUrl === undefined ? 1 : 0) + 1;
    this.isTerminal = terminalEventTest(run.plan.target.profile);
  }

  client(client: number): Promise<boolean> {
    const { run } = this;
    return this.flows(clientSlot(run, client, run.connections.connect(client)), run.clock.now(), true);
  }

  /** A new client with its own connection, for one flow. */
  async arrival(arrival: number, intendedStart: number): Promise<boolean> {
    const { connections } = this.run;
    const dispatcher = connections.connect(arrival);
    try {
      return await this.flows(clientSlot(this.run, arrival, dispatcher), intendedStart, false);
    } finally {
      await connections.release(dispatcher);
    }
  }

  /**
   * A virtual client's flows: a generation, then the session until the client model stops; and
   * again until the run ends (`repeat`, the closed model) or just once (an arrival of the open
   * model). False when the request budget leaves no room for another flow. One loop in one frame:
   * a run holds one of these suspended for every open stream.
   */
  private async flows(slot: ClientSlot, firstIntendedStart: number, repeat: boolean): Promise<boolean> {
    const { plan, clock, recorder, budget, deadline, generations } = this.run;
    const { target } = plan;
    const { requestsPerAttempt, urlTarget } = this;
    let intendedStart = firstIntendedStart;
    for (;;) {
      const ticket = budget.reserve(requestsPerAttempt + (urlTarget === undefined ? generations.requests : 0));
      if (ticket === undefined) return false;
      recorder.counters.flows++;
      try {
        // Only a flow with a token endpoint talks to the generations API: a fixed URL's client holds none.
        const api = urlTarget === undefined ? new GenerationsApi(target, { dispatcher: slot.dispatcher, clock }) : undefined;
        const generationId = api === undefined ? undefined : await generations.next(api, slot.signal, ticket);
        const sessionTargetOptions = api === undefined || generationId === undefined ? urlTarget : sessionTarget(target, api, { kind: 'token', api, generationId });
        // No generation (the create failed) or a session that never reached the server: starting over at once would spin.
        let pause = sessionTargetOptions === undefined;
        if (sessionTargetOptions !== undefined) {
          const session = await runStreamSession(
            {
              ...sessionTargetOptions,
              isTerminal: this.isTerminal,
              model: createClientModel(plan.client, target.profile.client),
              dispatcher: slot.dispatcher,
              clock,
              signal: slot.signal,
              maxAttempts: budget.attemptsLeft(requestsPerAttempt),
              // The run's end bounds the session: its stream is cut there (`max-duration`, not an error).
              maxDurationMs: deadline.remainingMs(),
            },
            new FlowMeasures(this.measures, ticket, intendedStart),
          );
          pause = session.unreachable !== undefined;
        }
        if (pause) await clock.sleep(NO_ANSWER_PAUSE_MS, slot.signal);
      } finally {
        ticket.release();
      }
      if (!repeat || deadline.over()) return true;
      intendedStart = clock.now();
    }
  }
}
