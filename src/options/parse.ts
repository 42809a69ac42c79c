import { InvalidArgumentError } from 'commander';
import { DELAY_RANGE_MS } from '../engine/delay.js';

/*
 * The value grammars every flag uses, as commander `argParser`s: commander names the flag in
 * the one-line error ("option '--duration <d>' argument 'soon' is invalid. …") and exits 2.
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000 } as const;

/** `500ms`, `2s`, `1.5s`, `1m`: the one duration grammar. A bare number is rejected: seconds or milliseconds? */
export function duration(raw: string): number {
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text)) throw new InvalidArgumentError(`a bare number is ambiguous: add a unit (${text}ms, ${text}s or ${text}m)`);
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text);
  if (!match) throw new InvalidArgumentError('expected a duration such as 500ms, 2s or 1m');
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
}

/** A duration that must be longer than zero (`--duration 0s` would end before it starts). */
export function positiveDuration(raw: string): number {
  const ms = duration(raw);
  if (ms <= 0) throw new InvalidArgumentError('must be longer than 0');
  return ms;
}

/** `0`, `1`, `42`: a whole number of something. */
export function nonNegativeInt(raw: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new InvalidArgumentError('expected a whole number >= 0');
  return Number(raw);
}

/** `1`, `42`: a whole number of something that needs at least one. */
export function positiveInt(raw: string): number {
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return Number(raw);
}

/** `--header A --header B`: each use adds one value, and the option never swallows a positional argument. */
export function repeatable(value: string, previous: readonly string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--only a,b --only c` -> ['a', 'b', 'c']. */
export function commaList(value: string, previous: readonly string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((item) => item.trim()).filter((item) => item !== '')];
}

/** A wait the client policy takes (`--silence`): a duration within the range every delay is clamped to. */
export function delay(raw: string): number {
  const ms = duration(raw);
  if (ms > DELAY_RANGE_MS.max) throw new InvalidArgumentError(`at most ${DELAY_RANGE_MS.max / 60_000}m`);
  return ms;
}

/** `2s,4s,8s` -> [2000, 4000, 8000]: a schedule of waits (`--retry-delays`). */
export function delayList(raw: string): number[] {
  const items = raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (items.length === 0) throw new InvalidArgumentError('expected durations separated by commas, e.g. 2s,4s,8s');
  return items.map(delay);
}
