import type { PolicyDecision } from '../engine/clientPolicy.js';
import type { Clock } from '../engine/clock.js';
import type { StreamEnd, StreamOpen, StreamResult } from '../engine/connection.js';
import type { TokenResult } from '../engine/generationsApi.js';
import type { SseEvent, SseNotice } from '../engine/sseDecoder.js';
import type { SessionCallbacks } from '../engine/streamSession.js';
import type { BudgetTicket } from './budget.js';
import type { LoadRecorder } from './recorder.js';

/** How a stream's end counts among the errors; undefined for a normal end. */
export function errorKind(end: StreamEnd): string | undefined {
  switch (end.kind) {
    // A load session's duration bound is the run's own end (see `maxDurationMs` in the stream flow): the stream did nothing wrong.
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

/** A token endpoint's answer: its latency and status, and an error unless it issued a token or asked to slow down (429). */
export function recordTokenAnswer(recorder: LoadRecorder, latencyMs: number, status: number, issued: boolean): void {
  recorder.latency('tokenRequest', latencyMs);
  recorder.answer('token', status);
  if (!issued && status !== 429) recorder.error(`token-${status}`);
}

/** Ends where the stream was still open when it stopped, so the silence it was in had not ended. */
const STOPPED_WHILE_OPEN: readonly StreamEnd['kind'][] = ['aborted', 'silence', 'max-duration'];

/** What every flow of a run records into. */
export interface FlowContext {
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
export class FlowMeasures implements SessionCallbacks {
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
    this.ticket.spend();
    // A request cut by the run's own end got no answer and is no error: it is not counted.
    if ('failure' in result && this.context.runSignal.aborted) return;
    recorder.counters.tokenRequests++;
    if ('failure' in result) {
      recorder.error(`token-${result.failure.failure}`);
      return;
    }
    recordTokenAnswer(recorder, latencyMs, result.exchange.status, result.ok);
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
