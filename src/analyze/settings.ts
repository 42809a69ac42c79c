import type { Profile } from '../engine/target.js';

/** Thresholds of the analysis; the defaults come from the profile. */
export interface AnalyzeSettings {
  /** A stream shorter than this that ends without a terminal event is "short". */
  readonly shortStreamMs: number;
  /** A retry sooner than this after the end before it came "at once". */
  readonly atOnceMs: number;
  /** Retries at once for one generation before they count as a storm. */
  readonly stormMinRequests: number;
}

export function defaultAnalyzeSettings(profile: Profile): AnalyzeSettings {
  const firstDelayMs = (profile.client.retryDelaysSeconds[0] ?? 2) * 1000;
  return { shortStreamMs: 1000, atOnceMs: firstDelayMs / 2, stormMinRequests: 10 };
}
