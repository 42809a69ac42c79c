import { readFileSync } from 'node:fs';
import { END_KINDS, type EndKind, type MeasuredClientSpec, type MeasuredEnd } from '../engine/clientPolicy.js';
import { UsageError } from '../errors.js';
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

/** Reads and checks a client model file written by `analyze --client-model`; a bad one is a usage error naming the flag. */
export function readClientModel(file: string, flag = '--client-model'): MeasuredClientSpec {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`${flag}: cannot read ${file} (${(error as Error).message})`, { cause: error });
  }
  const spec = parsed as Partial<MeasuredClientSpec> | null;
  const bad = (what: string) => new UsageError(`${flag}: ${file} ${what} (write one with: sse-doctor analyze <evidence> --client-model ${file})`);
  if (spec === null || typeof spec !== 'object' || spec.kind !== 'sse-doctor/client-model' || spec.version !== 1) throw bad('is not an sse-doctor client model');
  if (typeof spec.ends !== 'object' || spec.ends === null) throw bad('has no "ends"');
  for (const [kind, end] of Object.entries(spec.ends)) {
    if (!(END_KINDS as readonly string[]).includes(kind)) throw bad(`names an unknown end "${kind}" (known: ${END_KINDS.join(', ')})`);
    const { retries, delayMs, intervalMs } = end as Partial<MeasuredEnd>;
    const delay = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value >= 0;
    if (typeof retries !== 'boolean' || !delay(delayMs) || (intervalMs !== undefined && !delay(intervalMs))) throw bad(`has a malformed "ends.${kind}"`);
  }
  if (spec.maxRetries !== undefined && !(Number.isInteger(spec.maxRetries) && spec.maxRetries >= 0)) throw bad('has a malformed "maxRetries"');
  return Object.freeze({
    kind: spec.kind,
    version: spec.version,
    source: String(spec.source ?? file),
    ends: spec.ends,
    maxRetries: spec.maxRetries,
    resumes: spec.resumes === true,
    refreshesToken: spec.refreshesToken !== false,
  });
}
