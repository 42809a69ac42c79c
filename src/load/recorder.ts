import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Histogram } from 'hdr-histogram-js';
import { encodeHistogram, newHistogram, recordMs } from './histograms.js';
import { emptyCounters, LATENCY_METRICS, LOAD_PART_FORMAT, type LatencyMetric, type LoadCounters, type LoadPart, type LoadSettings, type TimelineSecond } from './part.js';

/** A live view of the run, once a second, for the ticker. */
export interface LoadSnapshot {
  readonly elapsedMs: number;
  readonly open: number;
  readonly flows: number;
  readonly events: number;
  /** Events in the last second. */
  readonly eventsLastSecond: number;
  readonly answers: number;
  readonly answers429: number;
  readonly errors: number;
}

const TIMELINE_INTERVAL_MS = 1000;
// The delay monitor samples every this many ms and records the whole interval: the lag is what exceeds it.
const LAG_RESOLUTION_MS = 10;

/**
 * Where every measurement of one process lands: plain counters and HDR histograms on the hot
 * path (no allocation per event), a timeline closed once a second, and the event-loop lag.
 */
export class LoadRecorder {
  readonly counters: LoadCounters = emptyCounters();
  readonly histograms: Record<LatencyMetric, Histogram>;
  readonly responses = { create: {} as Record<string, number>, token: {} as Record<string, number>, stream: {} as Record<string, number> };
  readonly errors: Record<string, number> = {};
  open = 0;
  peakOpen = 0;
  private answers = 0;
  private answers429 = 0;
  private errorCount = 0;
  private readonly timeline: TimelineSecond[] = [];
  private second: { responses: Record<string, number>; firstEvent: Histogram; tokenRequest: Histogram };
  private eventsAtSecondStart = 0;
  private tokenRequestsAtSecondStart = 0;
  private errorsAtSecondStart = 0;
  private lastSnapshot: LoadSnapshot;
  private readonly lag: IntervalHistogram;
  private readonly startedAtEpochMs = Date.now();
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  /** Called once at the run's first answer or failure (see `onFirstOutcome`). */
  private firstOutcome: (() => void) | undefined;
  private outcomes = 0;

  constructor(
    private readonly now: () => number,
    private readonly onSecond?: (snapshot: LoadSnapshot) => void,
  ) {
    this.histograms = Object.fromEntries(LATENCY_METRICS.map((name) => [name, newHistogram()])) as Record<LatencyMetric, Histogram>;
    this.second = this.freshSecond();
    this.startedAt = now();
    this.lastSnapshot = this.snapshot(0);
    this.lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  }

  start(): void {
    this.lag.enable();
    this.timer = setInterval(() => this.closeSecond(), TIMELINE_INTERVAL_MS);
  }

  latency(metric: LatencyMetric, ms: number): void {
    recordMs(this.histograms[metric], ms);
    if (metric === 'firstEvent') recordMs(this.second.firstEvent, ms);
    else if (metric === 'tokenRequest') recordMs(this.second.tokenRequest, ms);
  }

  /** Calls `callback` at the first answer or failure of the run, at once if there has been one. */
  onFirstOutcome(callback: () => void): void {
    if (this.outcomes > 0) callback();
    else this.firstOutcome = callback;
  }

  private outcome(): void {
    if (this.outcomes++ === 0) this.firstOutcome?.();
  }

  answer(endpoint: 'create' | 'token' | 'stream', status: number): void {
    this.outcome();
    const byStatus = this.responses[endpoint];
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (endpoint === 'create') return;
    this.answers++;
    if (status === 429) this.answers429++;
    this.second.responses[status] = (this.second.responses[status] ?? 0) + 1;
  }

  error(kind: string): void {
    this.outcome();
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
    this.errorCount++;
  }

  streamOpened(): void {
    this.counters.streamsOpened++;
    this.open++;
    if (this.open > this.peakOpen) this.peakOpen = this.open;
  }

  streamClosed(): void {
    this.open--;
  }

  get latest(): LoadSnapshot {
    return this.lastSnapshot;
  }

  /** Stops the clock work and returns everything as a mergeable part. */
  finish(settings: LoadSettings, stoppedEarly: boolean): LoadPart {
    clearInterval(this.timer);
    this.closeSecond();
    this.lag.disable();
    const nsToMs = (ns: number) => (Number.isFinite(ns) ? Math.max(0, Math.round((ns / 1e6 - LAG_RESOLUTION_MS) * 100) / 100) : 0);
    return {
      format: LOAD_PART_FORMAT,
      shard: undefined,
      shardsMerged: [],
      processes: 1,
      startedAtEpochMs: this.startedAtEpochMs,
      durationMs: Math.round(this.now() - this.startedAt),
      settings,
      counters: { ...this.counters },
      peakOpenStreams: this.peakOpen,
      responses: this.responses,
      errors: this.errors,
      histograms: Object.fromEntries(LATENCY_METRICS.map((name) => [name, encodeHistogram(this.histograms[name])])) as Record<LatencyMetric, string>,
      timeline: this.timeline,
      eventLoopLagMs: [{ p50: nsToMs(this.lag.percentile(50)), p99: nsToMs(this.lag.percentile(99)), max: nsToMs(this.lag.max) }],
      stoppedEarly,
    };
  }

  private closeSecond(): void {
    const { second } = this;
    const encodeIfAny = (histogram: Histogram) => (histogram.totalCount > 0 ? encodeHistogram(histogram) : undefined);
    const eventsInSecond = this.counters.events - this.eventsAtSecondStart;
    this.timeline.push({
      open: this.open,
      events: eventsInSecond,
      tokenRequests: this.counters.tokenRequests - this.tokenRequestsAtSecondStart,
      responses: second.responses,
      errors: this.errorCount - this.errorsAtSecondStart,
      firstEvent: encodeIfAny(second.firstEvent),
      tokenRequest: encodeIfAny(second.tokenRequest),
    });
    this.eventsAtSecondStart = this.counters.events;
    this.tokenRequestsAtSecondStart = this.counters.tokenRequests;
    this.errorsAtSecondStart = this.errorCount;
    this.second = this.freshSecond();
    this.lastSnapshot = this.snapshot(eventsInSecond);
    this.onSecond?.(this.lastSnapshot);
  }

  private snapshot(eventsLastSecond: number): LoadSnapshot {
    return {
      elapsedMs: this.now() - this.startedAt,
      open: this.open,
      flows: this.counters.flows,
      events: this.counters.events,
      eventsLastSecond,
      answers: this.answers,
      answers429: this.answers429,
      errors: this.errorCount,
    };
  }

  private freshSecond() {
    return { responses: {}, firstEvent: newHistogram(), tokenRequest: newHistogram() };
  }
}
