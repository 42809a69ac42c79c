import type { TailItem } from './tailItems.js';

/** NDJSON: one object per item, times rounded to 0.1 ms. */
export function tailJsonLine(item: TailItem): string {
  return `${JSON.stringify(item, (key, value: unknown) => ((key === 't' || key.endsWith('Ms')) && typeof value === 'number' ? Math.round(value * 10) / 10 : value))}\n`;
}
