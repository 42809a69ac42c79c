import type { Evidence } from '../check/types.js';

const MAX_VALUE_CHARS = 160;

/** Evidence as `key=value` pairs, nested keys dotted, long values cut: one line a human can scan. */
export function formatEvidence(evidence: Evidence, prefix = ''): string[] {
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(evidence)) {
    if (value === undefined) continue;
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      pairs.push(...formatEvidence(value as Evidence, name));
      continue;
    }
    const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
    pairs.push(`${name}=${text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text}`);
  }
  return pairs;
}
