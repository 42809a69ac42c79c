import type { Dispatcher } from 'undici';
import type { Clock } from '../engine/clock.js';
import type { GenerationsApi } from '../engine/generationsApi.js';
import type { BudgetTicket, RequestBudget, RunDeadline } from './budget.js';
import type { ClientConnections } from './connections.js';
import type { LoadPlan } from './plan.js';
import type { LoadRecorder } from './recorder.js';

/** What the arrivals start: one kind of flow (streams, token spam), run by virtual clients. */
export interface LoadFlow {
  /** A virtual client of the closed model: its flows one after another, until the run ends. */
  client(client: number): Promise<unknown>;
  /** One arrival of the open model, due at `intendedStart`; false when the request budget had no room left for it. */
  arrival(arrival: number, intendedStart: number): Promise<boolean>;
}

/** The parts of a run that its flows share. */
export interface FlowRun {
  readonly plan: LoadPlan;
  readonly clock: Clock;
  readonly recorder: LoadRecorder;
  readonly budget: RequestBudget;
  readonly deadline: RunDeadline;
  readonly connections: ClientConnections;
  readonly generations: GenerationIds;
}

/** What one virtual client (or one arrival of the open model) runs with. */
export interface ClientSlot {
  readonly signal: AbortSignal;
  readonly dispatcher: Dispatcher;
}

export function clientSlot(run: FlowRun, client: number, dispatcher: Dispatcher): ClientSlot {
  return { signal: run.deadline.signalOf(client), dispatcher };
}

/** Where each flow's generation comes from: the `--ids` given, in turn, or a new one created for it. */
export class GenerationIds {
  private nextListed = 0;

  constructor(
    private readonly ids: readonly string[] | undefined,
    private readonly prompt: string,
    private readonly recorder: LoadRecorder,
  ) {}

  /** Requests a flow spends on its generation: the create, unless ids were given. */
  get requests(): number {
    return this.ids === undefined ? 1 : 0;
  }

  /** The next of the ids given; undefined when none were. */
  listed(): string | undefined {
    return this.ids === undefined ? undefined : this.ids[this.nextListed++ % this.ids.length];
  }

  /** The next flow's generation; undefined when its create failed (counted as an error). */
  async next(api: GenerationsApi, signal: AbortSignal, ticket: BudgetTicket): Promise<string | undefined> {
    if (this.ids !== undefined) return this.listed();
    const { recorder } = this;
    ticket.spend();
    const created = await api.create(this.prompt, signal);
    // A request cut by the run's own end got no answer and is no error: it is not counted.
    if ('failure' in created && signal.aborted) return undefined;
    recorder.counters.createRequests++;
    if ('failure' in created) {
      recorder.error(`create-${created.failure.failure}`);
      return undefined;
    }
    recorder.answer('create', created.exchange.status);
    if (!created.ok) {
      recorder.error(`create-${created.exchange.status}`);
      return undefined;
    }
    return created.id;
  }
}
