/** NDJSON: one object per line, times (`t` and every `…Ms`) rounded to 0.1 ms. `tail --json` and `proxy --json` print their items so. */
export function ndjsonLine(item: object): string {
  return `${JSON.stringify(item, (key, value: unknown) => ((key === 't' || key.endsWith('Ms')) && typeof value === 'number' ? Math.round(value * 10) / 10 : value))}\n`;
}
