import { setMaxListeners } from 'node:events';
import type { Clock, TimerId } from '../engine/clock.js';
import type { LoadRecorder } from './recorder.js';

/**
 * Clients share an abort signal in blocks of this many: one signal with 10,000 listeners makes
 * every removal a walk of the whole list (Node's EventTarget), which would turn a big run quadratic.
 */
const CLIENTS_PER_SIGNAL = 64;
/** Clients (and the open model's arrivals) cycle over this many signals, so a long run does not keep adding them. */
const SHARED_SIGNALS = 256;

/**
 * The run's time budget (`--duration`): a timer stops the run at its end, as does the caller's
 * signal (Ctrl-C). Every flow and every arrival asks it whether to go on.
 */
export class RunDeadline {
  readonly startedAt: number;
  readonly endsAt: number;
  private readonly run = new AbortController();
  private readonly timer: TimerId;
  private firstOutcomeBound: TimerId | undefined;
  private readonly signals: AbortSignal[] = [];
  private readonly onOuterAbort = () => this.run.abort();
  private readonly end = () => {
    this.clock.cancel(this.firstOutcomeBound);
    this.run.abort();
  };

  constructor(
    durationMs: number,
    private readonly clock: Clock,
    private readonly outer: AbortSignal | undefined,
    /**
     * The run ends at its duration, but never before its first answer or failure, waited for at
     * most this long (the request timeouts): a run too short for a request to come back could not
     * tell a target that speaks garbage (exit 3) from one that answers slowly, and its exit code
     * would be a race.
     */
    firstOutcomeBoundMs: number,
    recorder: Pick<LoadRecorder, 'onFirstOutcome'>,
  ) {
    setMaxListeners(0, this.run.signal);
    outer?.addEventListener('abort', this.onOuterAbort, { once: true });
    this.timer = clock.schedule(durationMs, () => {
      this.firstOutcomeBound = clock.schedule(firstOutcomeBoundMs, this.end);
      recorder.onFirstOutcome(this.end);
    });
    this.startedAt = clock.now();
    this.endsAt = this.startedAt + durationMs;
  }

  /** Aborts when the run ends: failures after that are the run ending, not errors. */
  get signal(): AbortSignal {
    return this.run.signal;
  }

  /**
   * Whether the run is over. The clock is asked too: flows that end without I/O (a session past
   * its time bound) would otherwise loop on the microtask queue before the timer can fire.
   */
  over(): boolean {
    return this.run.signal.aborted || this.clock.now() >= this.endsAt;
  }

  remainingMs(): number {
    return Math.max(0, this.endsAt - this.clock.now());
  }

  /** The signal client number `client` stops on: one in a block of clients that share it. */
  signalOf(client: number): AbortSignal {
    const index = Math.floor(client / CLIENTS_PER_SIGNAL) % SHARED_SIGNALS;
    let signal = this.signals[index];
    if (signal === undefined) {
      const controller = new AbortController();
      setMaxListeners(0, controller.signal);
      if (this.run.signal.aborted) controller.abort();
      else this.run.signal.addEventListener('abort', () => controller.abort(), { once: true });
      signal = controller.signal;
      this.signals[index] = signal;
    }
    return signal;
  }

  /** The run has ended: the timer and the caller's signal are let go. */
  close(): void {
    this.clock.cancel(this.timer);
    this.clock.cancel(this.firstOutcomeBound);
    this.outer?.removeEventListener('abort', this.onOuterAbort);
  }
}

/**
 * `--max-requests`: a flow starts only when the requests made plus those reserved for flows in
 * progress leave room for its first attempt, so the number of flows is deterministic when nothing
 * fails (retries in a flow already running may still spend what is left).
 */
export class RequestBudget {
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
export class BudgetTicket {
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
