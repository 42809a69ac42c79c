import type { CheckReport } from '../check/types.js';

/** `--json`: `{"summary": {...}, "results": [{id, severity, status, title, message, evidence, durationMs}]}`, a stable schema. */
export function renderCheckJson(report: CheckReport): string {
  const results = report.results.map(({ id, severity, status, title, message, evidence, durationMs }) => ({ id, severity, status, title, message, evidence, durationMs }));
  return `${JSON.stringify({ summary: report.summary, results }, null, 2)}\n`;
}
