import { terminalSafeDeep } from './terminalText.js';
import type { ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import type { CheckReport, RuleGroup, RuleResult } from '../check/types.js';
import { formatEvidence } from './checkEvidence.js';

/** How each endpoint is named in the table's group rows, e.g. `POST /generations/generate/{id}/stream-token`. */
export type EndpointLabels = Readonly<Record<RuleGroup, string>>;

const MESSAGE_COLUMN = 64;

/**
 * The human report: a table grouped by endpoint, then a findings section that explains each
 * failure and warning (what is wrong, why it hurts, the fix, the evidence), then the verdict.
 */
export function renderCheckTable(fromTarget: CheckReport, endpoints: EndpointLabels, c: ChalkInstance): string {
  const report = terminalSafeDeep(fromTarget);
  const badge = (status: RuleResult['status']) =>
    status === 'pass' ? c.green('PASS') : status === 'fail' ? c.red.bold('FAIL') : status === 'warn' ? c.yellow('WARN') : c.dim('SKIP');
  const findings = report.results.filter((result) => result.status === 'fail' || result.status === 'warn');
  const lines: string[] = [];
  for (const group of ['token', 'stream'] as const) {
    const rows = report.results.filter((result) => groupOf(result) === group);
    if (rows.length === 0) continue;
    const table = new Table({
      head: ['', 'rule', 'result', 'ms'],
      style: { head: [], border: [] },
      // No line between rows: a table per endpoint stays short enough to scan.
      chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
      wordWrap: true,
      colWidths: [6, 30, MESSAGE_COLUMN + 2, 8],
    });
    for (const result of rows) {
      const finding = findings.indexOf(result);
      const text = finding >= 0 ? `${result.title} ${c.dim(`(finding ${finding + 1})`)}` : result.status === 'pass' ? result.title : result.message;
      table.push([badge(result.status), result.id, shorten(text, MESSAGE_COLUMN * 2), result.status === 'skip' ? '' : String(result.durationMs)]);
    }
    if (lines.length > 0) lines.push('');
    lines.push(c.bold(`${group} endpoint  ${c.dim(endpoints[group])}`), table.toString());
  }
  if (findings.length > 0) {
    lines.push('', c.bold('Findings'));
    findings.forEach((result, index) => {
      lines.push(
        '',
        `${index + 1}. ${badge(result.status)} ${c.bold(result.id)} ${c.dim(`(${result.severity}, layer: ${result.layer ?? 'backend'})`)} ${result.title}`,
        `   ${result.message}`,
      );
      const evidence = formatEvidence(result.evidence);
      if (evidence.length > 0) lines.push(c.dim(`   evidence: ${evidence.join(' ')}`));
    });
  }
  const { summary } = report;
  lines.push('');
  if (summary.interrupted) lines.push(c.red('! interrupted (Ctrl-C): the report covers only what ran, and is not a pass'));
  for (const problem of summary.problems) lines.push(c.red(`! ${problem}`));
  const fixtures = Object.entries(summary.fixtures).map(([role, id]) => `${role} ${id}`).join(', ');
  if (fixtures !== '') lines.push(c.dim(`fixtures: ${fixtures}`));
  const counts = `${summary.total} rules: ${summary.passed} passed, ${summary.failed} failed, ${summary.warnings} warnings, ${summary.skipped} skipped in ${(summary.durationMs / 1000).toFixed(1)} s`;
  lines.push(summary.ok ? c.green(`✔ ${counts}`) : c.red.bold(`✖ ${counts}${summary.strict && summary.failed === 0 ? ' (--strict: warnings fail)' : ''}`));
  return `${lines.join('\n')}\n`;
}

/** The endpoint a rule is about: the first segment of its id. */
export function groupOf(result: Pick<RuleResult, 'id'>): RuleGroup {
  return result.id.startsWith('token.') ? 'token' : 'stream';
}

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
