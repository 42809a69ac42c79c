import type { JudgeReport } from '../judge/types.js';

/** `judge --json`: the whole report, requests and page evidence included (tokens are already shortened). */
export function renderJudgeJson(report: JudgeReport): string {
  return `${JSON.stringify({ ok: !report.interrupted && report.cases.every((result) => result.verdict === 'pass'), ...report }, null, 2)}\n`;
}
