import type { EndKind, MeasuredClientSpec, MeasuredEnd } from '../engine/clientPolicy.js';
import type { MeasuredBehaviour } from './analyzer.js';

/** Share of ends followed by a retry above which the client "retries" after that kind of end. */
const RETRIES_SHARE = 0.5;
/** Below this share a retrying client was seen stopping too: it has a limit. */
const ALWAYS_SHARE = 0.95;

/** The behaviour `analyze` measured, as a client model file for `load` and `replay --client-model`. */
export function clientModelSpec(behaviour: MeasuredBehaviour, source: string): MeasuredClientSpec {
  const ends: Partial<Record<EndKind, MeasuredEnd>> = {};
  let stopsSometimes = false;
  for (const [kind, measured] of Object.entries(behaviour.ends) as [EndKind, NonNullable<MeasuredBehaviour['ends'][EndKind]>][]) {
    const share = measured.seen === 0 ? 0 : measured.retried / measured.seen;
    const retries = share >= RETRIES_SHARE;
    if (retries && share < ALWAYS_SHARE && kind !== 'terminal') stopsSometimes = true;
    ends[kind] = { retries, delayMs: Math.round(measured.delayMs ?? 0), intervalMs: measured.intervalMs === undefined ? undefined : Math.round(measured.intervalMs) };
  }
  return {
    kind: 'sse-doctor/client-model',
    version: 1,
    source,
    ends,
    maxRetries: stopsSometimes ? behaviour.maxRetriesInRow : undefined,
    resumes: (behaviour.resumeShare ?? 0) >= 0.5,
    refreshesToken: (behaviour.freshTokenShare ?? 1) >= 0.5,
  };
}
