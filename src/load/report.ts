import { decodeHistogram, summarise, type LatencySummary } from './histograms.js';
import { LATENCY_METRICS, type EventLoopLag, type LatencyMetric, type LoadPart } from './part.js';
import { thresholdHolds, type Threshold, type ThresholdFigure, type ThresholdResult } from './thresholds.js';

/** The figures of a run, as every load reporter shows them. */
export interface LoadMetrics {
  readonly peakOpenStreams: number;
  readonly streamsOpened: number;
  readonly events: number;
  readonly eventsPerSecond: number;
  /** Share of token and stream answers that were 429. */
  readonly rate429: number;
  /** Errors (every kind) per request made. */
  readonly errorRate: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly latencyMs: Readonly<Record<LatencyMetric, LatencySummary>>;
  readonly flows: number;
  readonly createRequests: number;
  readonly tokenRequests: number;
  readonly connections: number;
  readonly reconnects: number;
  readonly responses: LoadPart['responses'];
  readonly durationMs: number;
  readonly processes: number;
  /** The worst process's event-loop delay. */
  readonly eventLoopLagMs: EventLoopLag;
}

/** One second of the timeline with its percentiles computed, for the HTML charts. */
export interface TimelinePoint {
  readonly second: number;
  readonly open: number;
  readonly events: number;
  readonly tokenRequests: number;
  readonly responses: Readonly<Record<string, number>>;
  readonly errors: number;
  readonly firstEvent: { readonly p50: number; readonly p95: number; readonly p99: number } | undefined;
  readonly tokenRequest: { readonly p50: number; readonly p95: number; readonly p99: number } | undefined;
}

export interface LoadReport {
  readonly settings: LoadPart['settings'];
  readonly shardsMerged: readonly number[];
  readonly stoppedEarly: boolean;
  readonly metrics: LoadMetrics;
  readonly timeline: readonly TimelinePoint[];
  readonly thresholds: readonly ThresholdResult[];
  readonly verdict: 'pass' | 'fail';
  /** Things that make the figures less trustworthy (the tool's own lag, say). */
  readonly warnings: readonly string[];
}

/**
 * Without an error gate of the user's (`--threshold` on errorRate or errors), a run whose errors
 * pass this share of its requests fails: a load test that errs on one request in twenty is not a
 * pass, whatever else held (README, `load`).
 */
export const DEFAULT_MAX_ERROR_RATE = 0.05;

// Above this, the tool's own event loop was late enough to inflate the latencies it measured.
const LAG_WARNING_MS = 50;
/** One stall this long delays everything in flight at that moment, whatever the p99 says. */
const STALL_WARNING_MS = 1000;

export function buildLoadReport(part: LoadPart, thresholds: readonly Threshold[]): LoadReport {
  const histograms = Object.fromEntries(LATENCY_METRICS.map((metric) => [metric, decodeHistogram(part.histograms[metric])]));
  const latencyMs = Object.fromEntries(LATENCY_METRICS.map((metric) => [metric, summarise(histograms[metric]!)])) as Record<LatencyMetric, LatencySummary>;
  const answers = sumOf(part.responses.token) + sumOf(part.responses.stream);
  const answers429 = (part.responses.token['429'] ?? 0) + (part.responses.stream['429'] ?? 0);
  const errorCount = sumOf(part.errors);
  const requests = part.counters.createRequests + part.counters.tokenRequests + part.counters.connections;
  const lag: EventLoopLag = {
    p50: Math.max(0, ...part.eventLoopLagMs.map((entry) => entry.p50)),
    p99: Math.max(0, ...part.eventLoopLagMs.map((entry) => entry.p99)),
    max: Math.max(0, ...part.eventLoopLagMs.map((entry) => entry.max)),
  };
  const metrics: LoadMetrics = {
    peakOpenStreams: part.peakOpenStreams,
    streamsOpened: part.counters.streamsOpened,
    events: part.counters.events,
    eventsPerSecond: part.durationMs > 0 ? Math.round((part.counters.events * 1000) / part.durationMs) : 0,
    rate429: answers > 0 ? answers429 / answers : 0,
    errorRate: requests > 0 ? errorCount / requests : 0,
    errors: part.errors,
    latencyMs,
    flows: part.counters.flows,
    createRequests: part.counters.createRequests,
    tokenRequests: part.counters.tokenRequests,
    connections: part.counters.connections,
    reconnects: part.counters.reconnects,
    responses: part.responses,
    durationMs: part.durationMs,
    processes: part.processes,
    eventLoopLagMs: lag,
  };
  const results: ThresholdResult[] = thresholds.map((threshold): ThresholdResult => {
    const { subject } = threshold;
    let actual: number;
    if (subject.kind === 'figure') actual = figureOf(metrics, subject.figure, errorCount);
    else if (subject.stat === 'max') actual = latencyMs[subject.metric].max;
    else if (subject.stat === 'mean') actual = latencyMs[subject.metric].mean;
    else actual = histograms[subject.metric]!.getValueAtPercentile(subject.stat.percentile) / 1000;
    return { threshold: threshold.expression, actual, ok: thresholdHolds(threshold, actual) };
  });
  results.push(...defaultGates(part, thresholds, metrics.errorRate));
  const warnings: string[] = [];
  const localLimitErrors = Object.entries(part.errors).reduce((sum, [kind, count]) => (kind.endsWith('local-limit') ? sum + count : sum), 0);
  if (localLimitErrors > 0) {
    warnings.push(`sse-doctor's own process ran out of file descriptors ${localLimitErrors} times (EMFILE): those errors are the tool's limit (ulimit -n), not the target's; spread the clients over more processes (--workers)`);
  }
  if (lag.p99 > LAG_WARNING_MS || lag.max > STALL_WARNING_MS) {
    warnings.push(`sse-doctor's own event loop lagged (p99 ${lag.p99} ms, max ${lag.max} ms): latencies may be inflated by that much; spread the clients over more processes (--workers) or a longer --ramp`);
  }
  return {
    settings: part.settings,
    shardsMerged: part.shardsMerged,
    stoppedEarly: part.stoppedEarly,
    metrics,
    timeline: part.timeline.map((second, index) => ({
      second: index + 1,
      open: second.open,
      events: second.events,
      tokenRequests: second.tokenRequests,
      responses: second.responses,
      errors: second.errors,
      firstEvent: second.firstEvent === undefined ? undefined : percentilesOf(second.firstEvent),
      tokenRequest: second.tokenRequest === undefined ? undefined : percentilesOf(second.tokenRequest),
    })),
    thresholds: results,
    // An interrupted run measured less than was asked: never a pass.
    verdict: results.every((result) => result.ok) && !part.stoppedEarly ? 'pass' : 'fail',
    warnings,
  };
}

/**
 * The gates every run has: something succeeded (a stream opened, or a token issued under
 * --token-spam), and the default error-rate bound unless the user set an error gate of their own.
 */
function defaultGates(part: LoadPart, thresholds: readonly Threshold[], errorRate: number): ThresholdResult[] {
  const succeeded = part.settings.mode === 'token-spam' ? (part.responses.token['200'] ?? 0) : part.counters.streamsOpened;
  const what = part.settings.mode === 'token-spam' ? 'tokens issued' : 'streams opened';
  const gates: ThresholdResult[] = [{ threshold: `${what} > 0 (default)`, actual: succeeded, ok: succeeded > 0 }];
  const userGatesErrors = thresholds.some(({ subject }) => subject.kind === 'figure' && (subject.figure === 'errorRate' || subject.figure === 'errors'));
  if (!userGatesErrors) gates.push({ threshold: `errorRate<=${DEFAULT_MAX_ERROR_RATE} (default)`, actual: errorRate, ok: errorRate <= DEFAULT_MAX_ERROR_RATE });
  return gates;
}

function figureOf(metrics: LoadMetrics, figure: ThresholdFigure, errorCount: number): number {
  return figure === 'errors' ? errorCount : metrics[figure];
}

function percentilesOf(encoded: string) {
  const { p50, p95, p99 } = summarise(decodeHistogram(encoded));
  return { p50, p95, p99 };
}

function sumOf(record: Readonly<Record<string, number>>): number {
  return Object.values(record).reduce((sum, count) => sum + count, 0);
}
