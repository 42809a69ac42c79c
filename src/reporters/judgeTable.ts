import type { ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import type { JudgeReport } from '../judge/types.js';
import { failureLines, figureCells } from './judgeText.js';
import { terminalSafe } from './terminalText.js';

/**
 * The report card: one row per case with its verdict and figures, then each failure with the
 * requests that show it and what the client should do instead, then the verdict.
 */
export function renderJudgeTable(report: JudgeReport, c: ChalkInstance): string {
  const { policy } = report;
  const lines = [
    c.bold(`sse-doctor judge  ${c.dim(report.url)}`),
    c.dim(
      `policy${report.timeScale === 1 ? '' : ` x${report.timeScale}`}: backoff ${policy.delaysMs.map((ms) => (ms / 1000).toFixed(2)).join('/')} s, at most ${policy.maxRetries} retries, jitter ±${Math.round(policy.jitter * 100)}%, 429 fallback ${(policy.rateLimitFallbackMs / 1000).toFixed(2)} s, silence ${(policy.silenceMs / 1000).toFixed(2)} s`,
    ),
  ];
  const table = new Table({
    head: ['case', 'result', 'retries', 'delays (s)', 'in 429 wait', 'Last-Event-ID', 'fresh token', 'gave up after', 'worst req/s'],
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  const badge = (verdict: string) => (verdict === 'pass' ? c.green('PASS') : verdict === 'fail' ? c.red.bold('FAIL') : c.yellow('NOT RUN'));
  for (const result of report.cases) table.push([result.name, badge(result.verdict), ...figureCells(result.figures)]);
  lines.push(table.toString());

  const failed = report.cases.filter((result) => result.verdict !== 'pass');
  failed.forEach((result, index) => {
    lines.push('', `${index + 1}. ${badge(result.verdict)} ${c.bold(result.name)}: ${result.title}`);
    for (const line of failureLines(result)) lines.push(`   ${line}`);
    lines.push(c.dim(`   what to do: ${result.advice}`));
    for (const error of result.page?.consoleErrors.slice(0, 3) ?? []) lines.push(c.dim(`   browser console: ${terminalSafe(error)}`));
  });
  const passed = report.cases.length - failed.length;
  const summary = `${report.cases.length} cases: ${passed} passed, ${failed.length} failed in ${(report.durationMs / 1000).toFixed(1)} s`;
  lines.push('', failed.length === 0 && !report.interrupted ? c.green(`✔ ${summary}`) : c.red.bold(`✖ ${summary}`));
  if (report.interrupted) lines.push(c.red('! interrupted (Ctrl-C): the report covers only what ran, and is not a pass'));
  return `${lines.join('\n')}\n`;
}
