import type { ChalkInstance } from 'chalk';
import type { AnalyzeReport } from '../analyze/read.js';
// Log lines are written by whoever sent the requests: control characters never reach the terminal.
import { terminalSafe } from './terminalText.js';


const ms = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`);
/** `:12` for a line, ` entry 12` for an entry of a one-line HAR. */
export const where = (evidence: { readonly line: number; readonly unit: 'line' | 'entry' }) =>
  evidence.line <= 0 ? '' : evidence.unit === 'entry' ? ` entry ${evidence.line}` : `:${evidence.line}`;
const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

/** The human report: files read, findings with evidence, why and fix, then the figures against the profile. */
export function analyzeTable(report: AnalyzeReport, c: ChalkInstance): string {
  const { figures } = report;
  const lines: string[] = [];
  lines.push(
    c.bold(`sse-doctor analyze: ${report.files.length} file${report.files.length === 1 ? '' : 's'}, ${figures.requests} requests, ${figures.clients} clients, ${figures.generations} generations`),
  );
  for (const file of report.files) {
    const unreadable = file.unreadable === 0 ? '' : c.yellow(`, ${file.unreadable} unreadable line${file.unreadable === 1 ? '' : 's'} (${file.unreadableLines.join(', ')}${file.unreadable > file.unreadableLines.length ? ', …' : ''})`);
    lines.push(`  ${terminalSafe(file.file)}  ${c.dim(file.format)}  ${file.lines} lines, ${file.records} requests${unreadable}`);
  }
  lines.push('');
  if (report.findings.length === 0) lines.push(c.green('No findings: the clients and the backend behaved as the profile expects.'));
  else lines.push(c.bold(`Findings (${report.findings.length})`));
  report.findings.forEach((finding, index) => {
    const layer = finding.layer === 'backend' ? c.magenta('backend') : c.cyan('frontend');
    lines.push('', `${c.bold(`${index + 1}. ${finding.title}`)}  ${c.dim(finding.id)}  [${layer}]`, `   ${terminalSafe(finding.summary)}`);
    for (const evidence of finding.evidence) {
      lines.push(`     ${c.dim(`${terminalSafe(evidence.file)}${where(evidence)}`)}  ${terminalSafe(evidence.text)}`);
    }
    if (finding.occurrences > finding.evidence.length) lines.push(c.dim(`     … ${finding.occurrences - finding.evidence.length} more`));
    lines.push(`   ${c.dim('why:')} ${finding.why}`, `   ${c.dim(`fix (${finding.layer}):`)} ${finding.fix}`);
  });
  const perSecond = (value: number | undefined) => (value === undefined ? c.dim('n/a (no times in the log)') : String(value));
  const durations = figures.streamDurationMs;
  const rows: [string, string][] = [
    ['peak requests/s', perSecond(figures.peakRequestsPerSecond)],
    ['peak requests/s for one generation', perSecond(figures.peakRequestsPerSecondPerGeneration)],
    [`peak token requests/min for one generation (limit ${figures.tokenRateLimit.requests}/${figures.tokenRateLimit.windowSeconds} s)`, perSecond(figures.peakTokenRequestsPerGenerationPerMinute)],
    ['429 share of token answers', percent(figures.rate429)],
    ['stream duration p50 / p95 / p99 / max', durations.count === 0 ? c.dim('n/a (no durations in the log)') : `${ms(durations.p50)} / ${ms(durations.p95)} / ${ms(durations.p99)} / ${ms(durations.max)}`],
    ['retries per client (median / max)', `${figures.retriesPerClient.median} / ${figures.retriesPerClient.max}`],
    [`most retries in a row (policy max ${figures.policyMaxRetries})`, String(figures.maxRetriesInRow)],
    ['clients behaving like the seed\'s naive client', percent(figures.naiveClientShare)],
  ];
  for (const storm of figures.storms.slice(0, 3)) {
    rows.push([`storm ${terminalSafe(storm.generation)} (${terminalSafe(storm.client)})`, `${storm.requests} requests${storm.perSecond === undefined ? '' : `, ${storm.perSecond}/s`}`]);
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  lines.push('', c.bold('Figures'), ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`));
  return `${lines.join('\n')}\n`;
}
