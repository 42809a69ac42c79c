import { UsageError } from '../errors.js';
import { duration } from '../options/parse.js';
import { LATENCY_METRICS, type LatencyMetric } from './part.js';

/** Plain figures a threshold can name (besides `pNN(latency)`, `max(latency)`, `mean(latency)`). */
export const THRESHOLD_FIGURES = ['rate429', 'errorRate', 'errors', 'peakOpenStreams', 'streamsOpened', 'events', 'eventsPerSecond', 'reconnects'] as const;
export type ThresholdFigure = (typeof THRESHOLD_FIGURES)[number];

/** A CI gate such as `p95(firstEvent)<500ms` or `rate429<0.05`, parsed once at the options boundary. */
export interface Threshold {
  readonly expression: string;
  readonly subject:
    | { readonly kind: 'latency'; readonly metric: LatencyMetric; readonly stat: 'max' | 'mean' | { readonly percentile: number } }
    | { readonly kind: 'figure'; readonly figure: ThresholdFigure };
  readonly op: '<' | '<=' | '>' | '>=';
  /** Milliseconds for latencies, a fraction for rates, a count otherwise. */
  readonly limit: number;
}

/** A threshold checked against a run. */
export interface ThresholdResult {
  readonly threshold: string;
  readonly actual: number;
  readonly ok: boolean;
}

const PATTERN = /^\s*(?:(p\d{1,3}(?:\.\d+)?|max|mean)\(\s*(\w+)\s*\)|(\w+))\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*(ms|s|m|%)?\s*$/;

export function parseThreshold(raw: string): Threshold {
  const match = PATTERN.exec(raw);
  const usage = (why: string) =>
    new UsageError(`--threshold "${raw}": ${why} (e.g. 'p95(firstEvent)<500ms', 'rate429<0.05'; latencies: ${LATENCY_METRICS.join(', ')}; figures: ${THRESHOLD_FIGURES.join(', ')})`);
  if (!match) throw usage('not a threshold');
  const [, stat, metric, figure, op, number, unit] = match;
  if (stat !== undefined && metric !== undefined) {
    if (!(LATENCY_METRICS as readonly string[]).includes(metric)) throw usage(`unknown latency "${metric}"`);
    if (unit === undefined || unit === '%') throw usage(`a latency needs a unit: ${number}ms, ${number}s or ${number}m`);
    const limit = duration(`${number}${unit}`);
    let parsedStat: Extract<Threshold['subject'], { kind: 'latency' }>['stat'];
    if (stat === 'max' || stat === 'mean') parsedStat = stat;
    else {
      const percentile = Number(stat.slice(1));
      if (percentile <= 0 || percentile >= 100) throw usage(`percentile ${percentile} is not between 0 and 100`);
      parsedStat = { percentile };
    }
    return { expression: raw.trim(), subject: { kind: 'latency', metric: metric as LatencyMetric, stat: parsedStat }, op: op as Threshold['op'], limit };
  }
  if (!(THRESHOLD_FIGURES as readonly string[]).includes(figure ?? '')) throw usage(`unknown figure "${figure}"`);
  if (unit !== undefined && unit !== '%') throw usage(`${figure} is not a duration`);
  const limit = unit === '%' ? Number(number) / 100 : Number(number);
  return { expression: raw.trim(), subject: { kind: 'figure', figure: figure as ThresholdFigure }, op: op as Threshold['op'], limit };
}

export function thresholdHolds(threshold: Threshold, actual: number): boolean {
  switch (threshold.op) {
    case '<':
      return actual < threshold.limit;
    case '<=':
      return actual <= threshold.limit;
    case '>':
      return actual > threshold.limit;
    case '>=':
      return actual >= threshold.limit;
  }
}
