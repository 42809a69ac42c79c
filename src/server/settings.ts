/**
 * The reference server's knobs: the faults it can be told to inject and the timings it runs on.
 * Each fault breaks exactly one rule of docs/contract.md, so a check that flags it can be tested alone.
 */
export const FAULT_NAMES = [
  'immediate-close',
  'no-rate-limit',
  'no-heartbeat',
  'buffered',
  'reusable-token',
  'linger',
  'drop-mid-stream',
  'terminal-500',
  'no-resume',
  'wrong-content-type',
  'no-connected',
  'no-trace',
  'open-stream',
  'no-auth',
  'cross-user',
] as const;

/** One injectable misbehaviour of the reference server (see `FAULT_NAMES`). */
export type FaultName = (typeof FAULT_NAMES)[number];

/** Every duration the reference server runs on, in milliseconds, plus the token rate limit. */
export interface ServerTimings {
  /** From creation to the terminal event of a generation. */
  readonly generationMs: number;
  /** Longest silence on a stream before a heartbeat fills it; 0 turns heartbeats off. */
  readonly heartbeatMs: number;
  /** Duration cap of one stream connection; 0 means none. */
  readonly streamMaxMs: number;
  /** Lifetime of a stream token. */
  readonly tokenTtlMs: number;
  /** Sliding window of the token rate limit. */
  readonly rateWindowMs: number;
  /** Token requests allowed per (user, generation) inside the window. */
  readonly rateLimit: number;
}

/** The contract's numbers, except a generation short enough for a demo. */
export const DEFAULT_TIMINGS: ServerTimings = Object.freeze({
  generationMs: 8000,
  heartbeatMs: 2000,
  streamMaxMs: 60000,
  tokenTtlMs: 60000,
  rateWindowMs: 60000,
  rateLimit: 10,
});

/** The resolved configuration every module of the server reads. */
export interface ServerSettings {
  readonly timings: ServerTimings;
  /** Whether `fault` was asked for. */
  has(fault: FaultName): boolean;
}

export function resolveSettings(faults: readonly FaultName[], timings: Partial<ServerTimings>): ServerSettings {
  const active = new Set(faults);
  return Object.freeze({
    timings: Object.freeze({ ...DEFAULT_TIMINGS, ...definedOnly(timings) }),
    has: (fault: FaultName) => active.has(fault),
  });
}

/** `{ heartbeatMs: undefined }` must not erase a default (callers pass optional flags straight through). */
function definedOnly(timings: Partial<ServerTimings>): Partial<ServerTimings> {
  return Object.fromEntries(Object.entries(timings).filter(([, value]) => value !== undefined));
}
