/** The latencies `load` measures, each in its own HDR histogram (values in microseconds). */
export const LATENCY_METRICS = ['tokenRequest', 'headers', 'firstEvent', 'gap', 'streamDuration'] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];

/** Counts that add up exactly across workers and shards. */
export interface LoadCounters {
  /** Virtual-client flows started (create or pick an id, token, stream, until the policy stops). */
  flows: number;
  createRequests: number;
  tokenRequests: number;
  /** Stream requests made (each connection attempt). */
  connections: number;
  /** Streams answered 200 with an event stream. */
  streamsOpened: number;
  events: number;
  comments: number;
  /** Retries decided by the client model (a new token and/or a new connection). */
  reconnects: number;
}

/** One second of the run, for the charts. Histograms are encoded so they merge exactly. */
export interface TimelineSecond {
  /** Streams open when the second ended. */
  open: number;
  events: number;
  tokenRequests: number;
  /** Answers by HTTP status (token and stream endpoints) in this second. */
  responses: Record<string, number>;
  errors: number;
  firstEvent: string | undefined;
  tokenRequest: string | undefined;
}

/** The tool's own health: event-loop delay while it ran, in milliseconds. */
export interface EventLoopLag {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface LoadSettings {
  mode: 'streams' | 'token-spam';
  arrival: 'closed' | 'open';
  clients: number;
  ratePerSecond: number;
  client: string;
  /** Where the load went (a stream URL is redacted). */
  target: string;
}

/**
 * What one process measured, or several merged: the unit of `--workers`, `--shard` part files
 * and `sse-doctor merge`. Everything in it either adds or merges exactly; nothing is averaged.
 */
export interface LoadPart {
  format: typeof LOAD_PART_FORMAT;
  shard: { index: number; count: number } | undefined;
  /** Shards merged into this part (by index), for a complete-set check. */
  shardsMerged: number[];
  processes: number;
  startedAtEpochMs: number;
  durationMs: number;
  settings: LoadSettings;
  counters: LoadCounters;
  /** Largest number of streams open at once (merged: the largest sum of per-second samples, at least any part's own). */
  peakOpenStreams: number;
  responses: { create: Record<string, number>; token: Record<string, number>; stream: Record<string, number> };
  errors: Record<string, number>;
  histograms: Record<LatencyMetric, string>;
  timeline: TimelineSecond[];
  /** Per process, so a single overloaded worker is not hidden. */
  eventLoopLagMs: EventLoopLag[];
  stoppedEarly: boolean;
}

export const LOAD_PART_FORMAT = 'sse-doctor-load-part/1';

export function emptyCounters(): LoadCounters {
  return { flows: 0, createRequests: 0, tokenRequests: 0, connections: 0, streamsOpened: 0, events: 0, comments: 0, reconnects: 0 };
}

/** Where `--shard i/n` writes its part when `--part` names no file. */
export function defaultPartFile(shard: { readonly index: number; readonly count: number }): string {
  return `sse-doctor-part-${shard.index}-of-${shard.count}.json`;
}
