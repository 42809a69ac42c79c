import type { CheckReport } from '../check/types.js';

/** `--json`: `{"summary": {...}, "results": [{id, severity, status, title, message, layer, fix, evidence, durationMs}]}`, a stable schema (layer and fix are null but for failures and warnings). */
export function renderCheckJson(report: CheckReport): string {
  const results = report.results.map(({ id, severity, status, title, message, layer, fix, evidence, durationMs }) => ({ id, severity, status, title, message, layer: layer ?? null, fix: fix ?? null, evidence, durationMs }));
  return `${JSON.stringify({ summary: report.summary, results }, null, 2)}\n`;
}
