import type { ReplayReport } from '../replay/scenario.js';

/** One JSON document: the report itself when a single client ran, an array when several did. */
export function replayJson(reports: readonly ReplayReport[]): string {
  return `${JSON.stringify(reports.length === 1 ? reports[0] : reports)}\n`;
}
