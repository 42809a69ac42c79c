import { tmpdir } from 'node:os';
import { runCheck, type CheckOptions } from '../../src/check/runner.js';
import type { CheckReport, RuleResult } from '../../src/check/types.js';
import { resolveTargetOptions } from '../../src/options/options.js';
import type { Profile, ProfileLimits, TargetOptions } from '../../src/engine/target.js';
import { BUILTIN_PROFILES } from '../../src/options/profiles.js';
import type { ServerTimings } from '../../src/server/settings.js';

/**
 * Reference server timings short enough for tests. A generation of 1.5 s keeps its burst of
 * content chunks (the last quarter) longer than the buffering threshold of `FAST_LIMITS`.
 */
export const FAST_TIMINGS = {
  generationMs: 1500,
  heartbeatMs: 100,
  streamMaxMs: 10_000,
  tokenTtlMs: 3000,
  rateWindowMs: 2000,
  rateLimit: 10,
};

/** The contract limits matching `FAST_TIMINGS`, with room on both sides of each timing rule. */
export const FAST_LIMITS: ProfileLimits = {
  heartbeatSeconds: 0.5,
  firstEventSeconds: 0.5,
  closeAfterTerminalSeconds: 0.3,
  streamMaxSeconds: 10,
  tokenRateLimit: 10,
  tokenRateWindowSeconds: 2,
  tokenExpiresSeconds: 3,
  generationTimeoutSeconds: 10,
};

/**
 * `FAST_TIMINGS` and `FAST_LIMITS` slowed down by `pace`: every duration times `pace`, counts
 * unchanged. A backend that needs more CPU per request (the Python one) keeps the same margins
 * relative to its own speed, so a rule's verdict never hangs on how busy the machine is.
 */
export function atPace(pace: number, timings: Partial<typeof FAST_TIMINGS> = {}): { timings: typeof FAST_TIMINGS; limits: ProfileLimits } {
  return { timings: timingsAtPace({ ...FAST_TIMINGS, ...timings }, pace), limits: limitsAtPace(FAST_LIMITS, pace) };
}

/** Server timings with every duration times `pace`; the rate limit (a count) unchanged. */
export function timingsAtPace<T extends Partial<ServerTimings>>(timings: T, pace: number): T {
  return Object.fromEntries(Object.entries(timings).map(([key, value]) => [key, key === 'rateLimit' ? value : (value as number) * pace])) as T;
}

/** Profile limits with every duration times `pace`; the token rate limit (a count) unchanged. */
export function limitsAtPace(limits: ProfileLimits, pace: number): ProfileLimits {
  return Object.fromEntries(Object.entries(limits).map(([key, value]) => [key, key === 'tokenRateLimit' ? value : value * pace])) as unknown as ProfileLimits;
}

/** The generations profile with `limits` in place of the contract's, as a config file would set them. */
export function fastProfile(limits: Partial<ProfileLimits> = {}): Profile {
  const base = BUILTIN_PROFILES.generations;
  return { ...base, limits: { ...FAST_LIMITS, ...limits }, client: { ...base.client, silenceSeconds: 2 } };
}

/** Target options for alice (and bob as the second user, unless `withOtherAuth` is false) against `baseUrl`. */
export function fastTarget(baseUrl: string, profile: Profile = fastProfile(), withOtherAuth = true): TargetOptions {
  const resolved = resolveTargetOptions({ baseUrl, auth: 'alice', otherAuth: withOtherAuth ? 'bob' : undefined }, {}, tmpdir());
  return { ...resolved, profile };
}

/** Runs the suite programmatically, the way the command does. */
export function runFastCheck(target: TargetOptions, options: Partial<Omit<CheckOptions, 'target'>> = {}): Promise<CheckReport> {
  return runCheck({ target, only: [], skip: [], slow: false, strict: false, completedId: undefined, failedId: undefined, ...options });
}

/** Ids of the results with `status`. */
export function idsWith(report: CheckReport, status: RuleResult['status']): string[] {
  return report.results.filter((result) => result.status === status).map((result) => result.id);
}

/** A compact `id: message` view of the failures, for readable assertion diffs. */
export function failures(report: CheckReport): Record<string, string> {
  return Object.fromEntries(report.results.filter((result) => result.status === 'fail').map((result) => [result.id, result.message]));
}
