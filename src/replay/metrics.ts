import type { StreamResult } from '../engine/connection.js';

/** min, median, p95 and max of a set of values; all null when there were none. */
export interface Distribution {
  readonly min: number | null;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly max: number | null;
}

/** The figures every replay reports, in the JSON's shape. */
export interface ReplayMetrics {
  readonly retries: number;
  readonly tokenRequests: number;
  /** HTTP responses by status, token endpoint and stream together. */
  readonly responses: Readonly<Record<string, number>>;
  /** Share of all HTTP responses that were 429 (0..1). */
  readonly rate429: number;
  readonly streamDurationsMs: Distribution;
  /** Stream connections after the first. */
  readonly reconnects: number;
  readonly duplicates: number;
  readonly missing: number;
  /** Token requests and stream connections per second of the run. */
  readonly requestsPerSecond: number;
  /** From the start of the run to the terminal event; null when none arrived. */
  readonly timeToTerminalMs: number | null;
}

/** What the metrics are computed from. */
export interface MetricParts {
  readonly retries: number;
  readonly tokenRequests: number;
  readonly responses: Readonly<Record<string, number>>;
  readonly streams: readonly StreamResult[];
  readonly duplicates: number;
  readonly missing: number;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly terminalAt: number | undefined;
}

/** Nearest-rank percentile of ascending `sorted` values (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? null;
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0] ?? null, p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted.at(-1) ?? null };
}

const round1 = (value: number) => Math.round(value * 10) / 10;

export function metricsOf(parts: MetricParts): ReplayMetrics {
  const totalResponses = Object.values(parts.responses).reduce((sum, count) => sum + count, 0);
  const durationMs = Math.max(1, parts.endedAt - parts.startedAt);
  const durations = distribution(parts.streams.map((stream) => stream.endedAt - stream.startedAt));
  const roundOrNull = (value: number | null) => (value === null ? null : round1(value));
  return {
    retries: parts.retries,
    tokenRequests: parts.tokenRequests,
    responses: { ...parts.responses },
    rate429: totalResponses === 0 ? 0 : Math.round(((parts.responses['429'] ?? 0) / totalResponses) * 1000) / 1000,
    streamDurationsMs: { min: roundOrNull(durations.min), p50: roundOrNull(durations.p50), p95: roundOrNull(durations.p95), max: roundOrNull(durations.max) },
    reconnects: Math.max(0, parts.streams.length - 1),
    duplicates: parts.duplicates,
    missing: parts.missing,
    requestsPerSecond: round1(((parts.tokenRequests + parts.streams.length) * 1000) / durationMs),
    timeToTerminalMs: parts.terminalAt === undefined ? null : round1(parts.terminalAt - parts.startedAt),
  };
}
