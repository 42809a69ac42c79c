import { clientLabel } from '../engine/clientPolicy.js';
import { systemClock, type Clock } from '../engine/clock.js';
import { GenerationsApi } from '../engine/generationsApi.js';
import { redactStreamUrl } from '../engine/secrets.js';
import { closedArrivals, openArrivals } from './arrivals.js';
import { RequestBudget, RunDeadline } from './budget.js';
import { ClientConnections } from './connections.js';
import { GenerationIds, type FlowRun, type LoadFlow } from './flow.js';
import type { LoadPart, LoadSettings } from './part.js';
import type { LoadPlan } from './plan.js';
import { LoadRecorder, type LoadSnapshot } from './recorder.js';
import { StreamFlow } from './streamFlow.js';
import { TokenSpamFlow } from './tokenSpamFlow.js';

export interface LoadRunOptions {
  readonly clock?: Clock;
  /** Stops the run early (Ctrl-C); what ran is still reported. */
  readonly signal?: AbortSignal;
  /** Once a second, for the ticker. */
  readonly onSecond?: (snapshot: LoadSnapshot) => void;
  /** As each stream opens, with how many are open now: lets a benchmark time how fast N open. */
  readonly onStreamOpened?: (open: number) => void;
}

/** Past the request timeouts, so that a request that timed out is counted before the run ends without it. */
const TIMEOUT_MARGIN_MS = 1000;

/**
 * Runs one process's share of a load test, all over one undici Agent, and returns a part that
 * merges exactly with other processes' and shards'. The wiring of four parts: the arrivals
 * (`arrivals.ts`: closed or open model) start the flows (`streamFlow.ts`, `tokenSpamFlow.ts`)
 * within the run's budget (`budget.ts`: duration, `--max-requests`), and the flows record their
 * measures (`measures.ts`) into the recorder.
 */
export async function runLoad(plan: LoadPlan, options: LoadRunOptions = {}): Promise<LoadPart> {
  const clock = options.clock ?? systemClock;
  const { target } = plan;
  const recorder = new LoadRecorder(clock.now, options.onSecond);
  const api = new GenerationsApi(target, undefined);
  const directUrl = target.streamUrl ?? (target.profile.usesTokens ? undefined : api.url('stream'));
  const deadline = new RunDeadline(plan.durationMs, clock, options.signal, target.connectTimeoutMs + target.headersTimeoutMs + TIMEOUT_MARGIN_MS, recorder);
  const connections = new ClientConnections(directUrl ?? target.baseUrl, target.connectTimeoutMs, plan.sourceNetwork);
  const run: FlowRun = {
    plan,
    clock,
    recorder,
    budget: new RequestBudget(plan.maxRequests),
    deadline,
    connections,
    generations: new GenerationIds(plan.ids, target.profile.fixtures.completingPrompt, recorder),
  };
  const flow: LoadFlow = plan.mode === 'token-spam' ? new TokenSpamFlow(run, api) : new StreamFlow(run, api, directUrl, options.onStreamOpened);
  recorder.start();
  try {
    if (plan.arrival.kind === 'closed') await closedArrivals(plan.arrival.clients, plan.rampMs, clock, deadline, (client) => flow.client(client));
    else await openArrivals(plan.arrival.ratePerSecond, plan.rampMs, clock, deadline, (arrival, intendedStart) => flow.arrival(arrival, intendedStart));
  } finally {
    deadline.close();
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
