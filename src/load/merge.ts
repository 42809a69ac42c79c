import { ConfigError } from '../errors.js';
import { decodeHistogram, encodeHistogram, newHistogram } from './histograms.js';
import { emptyCounters, LATENCY_METRICS, LOAD_PART_FORMAT, type LatencyMetric, type LoadCounters, type LoadPart, type TimelineSecond } from './part.js';

/**
 * Combines parts measured by workers or shards into one: counts add, histograms merge bucket by
 * bucket, timelines line up by wall-clock second. Nothing is averaged, so percentiles of the
 * whole are exactly what one process would have measured.
 */
export function mergeParts(parts: readonly LoadPart[]): LoadPart {
  const first = parts[0];
  if (first === undefined) throw new ConfigError('merge: no parts to merge');
  if (parts.length === 1) return first;
  const startedAtEpochMs = Math.min(...parts.map((part) => part.startedAtEpochMs));
  const endedAtEpochMs = Math.max(...parts.map((part) => part.startedAtEpochMs + part.durationMs));

  const counters = emptyCounters();
  for (const part of parts) for (const key of Object.keys(counters) as (keyof LoadCounters)[]) counters[key] += part.counters[key];

  const histograms = {} as Record<LatencyMetric, string>;
  for (const metric of LATENCY_METRICS) {
    const merged = newHistogram();
    for (const part of parts) merged.add(decodeHistogram(part.histograms[metric]));
    histograms[metric] = encodeHistogram(merged);
  }

  const timeline: TimelineSecond[] = [];
  for (const part of parts) {
    const offset = Math.round((part.startedAtEpochMs - startedAtEpochMs) / 1000);
    part.timeline.forEach((second, index) => {
      const at = offset + index;
      for (let fill = timeline.length; fill <= at; fill++) {
        timeline.push({ open: 0, events: 0, tokenRequests: 0, responses: {}, errors: 0, firstEvent: undefined, tokenRequest: undefined });
      }
      timeline[at] = addSeconds(timeline[at] as TimelineSecond, second);
    });
  }

  return {
    format: LOAD_PART_FORMAT,
    shard: undefined,
    shardsMerged: [...new Set(parts.flatMap((part) => (part.shard ? [part.shard.index] : part.shardsMerged)))].sort((a, b) => a - b),
    processes: parts.reduce((sum, part) => sum + part.processes, 0),
    startedAtEpochMs,
    durationMs: endedAtEpochMs - startedAtEpochMs,
    settings: {
      ...first.settings,
      clients: parts.reduce((sum, part) => sum + part.settings.clients, 0),
      ratePerSecond: parts.reduce((sum, part) => sum + part.settings.ratePerSecond, 0),
    },
    counters,
    peakOpenStreams: Math.max(...timeline.map((second) => second.open), ...parts.map((part) => part.peakOpenStreams)),
    responses: {
      create: addCounts(parts.map((part) => part.responses.create)),
      token: addCounts(parts.map((part) => part.responses.token)),
      stream: addCounts(parts.map((part) => part.responses.stream)),
    },
    errors: addCounts(parts.map((part) => part.errors)),
    histograms,
    timeline,
    eventLoopLagMs: parts.flatMap((part) => part.eventLoopLagMs),
    stoppedEarly: parts.some((part) => part.stoppedEarly),
  };
}

function addSeconds(a: TimelineSecond, b: TimelineSecond): TimelineSecond {
  return {
    open: a.open + b.open,
    events: a.events + b.events,
    tokenRequests: a.tokenRequests + b.tokenRequests,
    responses: addCounts([a.responses, b.responses]),
    errors: a.errors + b.errors,
    firstEvent: addEncoded(a.firstEvent, b.firstEvent),
    tokenRequest: addEncoded(a.tokenRequest, b.tokenRequest),
  };
}

function addEncoded(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  // Into a fresh, growable histogram: a decoded one keeps its own range and refuses wider values.
  const merged = newHistogram();
  merged.add(decodeHistogram(a));
  merged.add(decodeHistogram(b));
  return encodeHistogram(merged);
}

function addCounts(records: readonly Record<string, number>[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const record of records) for (const [key, count] of Object.entries(record)) sum[key] = (sum[key] ?? 0) + count;
  return sum;
}

/** Reads a part file's JSON, checking it is one, so a wrong file is named in one line. */
export function parsePart(text: string, file: string): LoadPart {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${file}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const part = value as Partial<LoadPart> | null;
  if (typeof part !== 'object' || part === null || part.format !== LOAD_PART_FORMAT) {
    throw new ConfigError(`${file}: not an sse-doctor load part (expected "format": "${LOAD_PART_FORMAT}"; write one with sse-doctor load --shard i/n)`);
  }
  for (const metric of LATENCY_METRICS) {
    const encoded = part.histograms?.[metric];
    if (typeof encoded !== 'string') throw new ConfigError(`${file}: histograms.${metric}: expected an encoded histogram`);
    try {
      decodeHistogram(encoded);
    } catch (error) {
      throw new ConfigError(`${file}: histograms.${metric}: not a valid HDR histogram encoding`, { cause: error });
    }
  }
  if (typeof part.counters !== 'object' || !Array.isArray(part.timeline)) throw new ConfigError(`${file}: counters or timeline missing`);
  return part as LoadPart;
}
