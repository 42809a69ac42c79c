import { LATENCY_METRICS } from '../load/part.js';
import type { LoadReport } from '../load/report.js';

/**
 * `load --json`: the shape (`metrics` with peakOpenStreams, streamsOpened, events,
 * eventsPerSecond, rate429, errors, latencyMs.{tokenRequest,firstEvent,gap,…}.{p50,p95,p99,max};
 * `thresholds`; `verdict`), plus a few more counts and the run's settings.
 */
export function loadJson(report: LoadReport): string {
  const { metrics } = report;
  const latencyMs = Object.fromEntries(
    LATENCY_METRICS.map((metric) => {
      const { count, p50, p95, p99, max } = metrics.latencyMs[metric];
      return [metric, { p50, p95, p99, max, count }];
    }),
  );
  return `${JSON.stringify({
    metrics: {
      peakOpenStreams: metrics.peakOpenStreams,
      streamsOpened: metrics.streamsOpened,
      events: metrics.events,
      eventsPerSecond: metrics.eventsPerSecond,
      rate429: metrics.rate429,
      errors: metrics.errors,
      latencyMs,
      flows: metrics.flows,
      createRequests: metrics.createRequests,
      tokenRequests: metrics.tokenRequests,
      connections: metrics.connections,
      reconnects: metrics.reconnects,
      errorRate: metrics.errorRate,
      responses: metrics.responses,
      durationMs: metrics.durationMs,
      processes: metrics.processes,
      eventLoopLagMs: metrics.eventLoopLagMs,
    },
    thresholds: report.thresholds,
    verdict: report.verdict,
    settings: report.settings,
    shardsMerged: report.shardsMerged,
    stoppedEarly: report.stoppedEarly,
    interrupted: report.stoppedEarly,
    warnings: report.warnings,
  })}\n`;
}
