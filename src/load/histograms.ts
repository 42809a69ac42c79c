import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';

/** Percentiles of one latency metric, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

// One hour in microseconds: a longer value is clamped rather than lost.
const HIGHEST_MICROS = 3_600_000_000;

/**
 * A histogram at 3 significant digits that grows only as far as the values it holds, so an
 * idle one stays a few hundred bytes. The pure-JS implementation: WebAssembly would need an
 * async init in every worker for no gain at these record rates.
 */
export function newHistogram(): Histogram {
  return build({ numberOfSignificantValueDigits: 3, autoResize: true, useWebAssembly: false });
}

/** A duration in milliseconds as the histogram's microseconds, clamped to its range. */
function micros(ms: number): number {
  return Math.min(HIGHEST_MICROS, Math.max(0, Math.round(ms * 1000)));
}

/** Records a duration given in milliseconds (fractions kept to the microsecond). */
export function recordMs(histogram: Histogram, ms: number): void {
  histogram.recordValue(micros(ms));
}

/** Durations held back before they reach the histogram. */
const PENDING_VALUES = 4096;

/**
 * Durations recorded by the thousand, for millions of them (`analyze` on a long log): held,
 * sorted, then given to the histogram once per distinct value. The histogram's own cost per value
 * (a logarithm and a power) is several times a sort's, and a long log's durations repeat (a
 * storm's 3 ms, a proxy's 30 s timeout).
 */
export class BulkRecorder {
  private readonly pending = new Float64Array(PENDING_VALUES);
  private count = 0;

  constructor(private readonly histogram: Histogram) {}

  recordMs(ms: number): void {
    this.pending[this.count++] = ms;
    if (this.count === PENDING_VALUES) this.flush();
  }

  /** The histogram, holding every duration recorded so far. */
  flushed(): Histogram {
    this.flush();
    return this.histogram;
  }

  private flush(): void {
    const values = this.pending.subarray(0, this.count).sort();
    for (let start = 0; start < values.length; ) {
      let end = start + 1;
      while (end < values.length && values[end] === values[start]) end++;
      this.histogram.recordValueWithCount(micros(values[start]!), end - start);
      start = end;
    }
    this.count = 0;
  }
}

/** Compressed base64 (HdrHistogram's own V2 encoding): exact, portable, mergeable anywhere. */
export function encodeHistogram(histogram: Histogram): string {
  return encodeIntoCompressedBase64(histogram);
}

export function decodeHistogram(encoded: string): Histogram {
  return decodeFromCompressedBase64(encoded, 32, false);
}

export function summarise(histogram: Histogram): LatencySummary {
  const ms = (micros: number) => Math.round(micros) / 1000;
  if (histogram.totalCount === 0) return { count: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  return {
    count: histogram.totalCount,
    p50: ms(histogram.getValueAtPercentile(50)),
    p95: ms(histogram.getValueAtPercentile(95)),
    p99: ms(histogram.getValueAtPercentile(99)),
    // The bucket's value, not the raw max a live histogram tracks: decoded and merged ones agree.
    max: ms(histogram.getValueAtPercentile(100)),
    mean: ms(histogram.mean),
  };
}
