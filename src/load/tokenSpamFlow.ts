import type { Dispatcher } from 'undici';
import { errorCode, requestTarget, transportFailureKind } from '../engine/connection.js';
import { GenerationsApi } from '../engine/generationsApi.js';
import { clientSlot, type ClientSlot, type FlowRun, type LoadFlow } from './flow.js';
import { recordTokenAnswer } from './measures.js';

/**
 * Token spam: one generation, then token requests back to back (closed) or one per arrival
 * (open). Only the status and the time count here, so the body is drained unread: the point is
 * to press the endpoint as hard as a bare undici loop would.
 */
export class TokenSpamFlow implements LoadFlow {
  private readonly tokenHeaders: Record<string, string>;
  /** The open model's arrivals share one generation… */
  private sharedId: Promise<string | undefined> | undefined;
  /** …and one pool (a connection per request would measure connect(), not the endpoint), so one slot too. */
  private sharedSlot: ClientSlot | undefined;

  constructor(
    private readonly run: FlowRun,
    private readonly api: GenerationsApi,
  ) {
    this.tokenHeaders = api.headers();
  }

  async client(client: number): Promise<void> {
    const { run } = this;
    const slot = clientSlot(run, client, run.connections.connect(client));
    const ticket = run.budget.reserve(run.generations.requests);
    if (ticket === undefined) return;
    run.recorder.counters.flows++;
    const generationId = await run.generations.next(new GenerationsApi(run.plan.target, { dispatcher: slot.dispatcher, clock: run.clock }), slot.signal, ticket);
    ticket.release();
    if (generationId === undefined) return;
    const tokenRequest = this.tokenRequestOf(generationId);
    while (!slot.signal.aborted && !run.deadline.over() && (await this.spamOnce(tokenRequest, slot.dispatcher, undefined)));
  }

  async arrival(_arrival: number, intendedStart: number): Promise<boolean> {
    const { run } = this;
    const slot = (this.sharedSlot ??= clientSlot(run, 0, run.connections.shared));
    if (this.sharedId === undefined) {
      const ticket = run.budget.reserve(run.generations.requests);
      this.sharedId = ticket === undefined ? Promise.resolve(undefined) : run.generations.next(new GenerationsApi(run.plan.target, { dispatcher: slot.dispatcher, clock: run.clock }), slot.signal, ticket);
    }
    const generationId = run.generations.listed() ?? (await this.sharedId);
    if (generationId === undefined) return false;
    run.recorder.counters.flows++;
    return this.spamOnce(this.tokenRequestOf(generationId), slot.dispatcher, intendedStart);
  }

  /**
   * Built once per generation and reused by every request: undici would otherwise parse the URL
   * each time, and the spam loop spends its time building requests, not waiting for them.
   */
  private tokenRequestOf(generationId: string): Dispatcher.RequestOptions {
    const { target } = this.run.plan;
    return {
      ...requestTarget(this.api.url('token', generationId)),
      method: 'POST',
      headers: this.tokenHeaders,
      headersTimeout: target.headersTimeoutMs,
      bodyTimeout: target.headersTimeoutMs,
    };
  }

  /** One token request, if the budget has room for it (false when not). */
  private async spamOnce(tokenRequest: Dispatcher.RequestOptions, dispatcher: Dispatcher, intendedStart: number | undefined): Promise<boolean> {
    const { budget, clock, recorder } = this.run;
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
      recordTokenAnswer(recorder, clock.now() - (intendedStart ?? sentAt), response.statusCode, response.statusCode < 300);
    } catch (error) {
      recorder.error(`token-${transportFailureKind(errorCode(error), true)}`);
    }
    return true;
  }
}
