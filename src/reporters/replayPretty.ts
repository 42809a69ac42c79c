import { terminalSafeDeep } from './terminalText.js';
import type { ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import type { Distribution, ReplayMetrics } from '../replay/metrics.js';
import type { ReplayReport, Scenario } from '../replay/scenario.js';

const ms = (value: number | null) => (value === null ? '-' : value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`);
const spread = (d: Distribution) => (d.min === null ? '-' : [d.min, d.p50, d.p95, d.max].map(ms).join(' / '));
const statuses = (responses: ReplayMetrics['responses']) =>
  Object.entries(responses).map(([status, count]) => `${status}: ${count}`).join(', ') || '-';

const RATE_MIN_REQUESTS = 10;
const requestsOf = (m: ReplayMetrics) => Object.values(m.responses).reduce((sum, count) => sum + count, 0);

const METRIC_ROWS: readonly [string, (m: ReplayMetrics) => string][] = [
  ['retries', (m) => String(m.retries)],
  ['token requests', (m) => String(m.tokenRequests)],
  ['responses', (m) => statuses(m.responses)],
  ['429 rate', (m) => `${Math.round(m.rate429 * 1000) / 10}%`],
  ['streams min/p50/p95/max', (m) => spread(m.streamDurationsMs)],
  ['time to terminal event', (m) => ms(m.timeToTerminalMs)],
  ['reconnects', (m) => String(m.reconnects)],
  ['duplicate ids', (m) => String(m.duplicates)],
  ['missing ids', (m) => String(m.missing)],
  // Over a handful of requests a rate is noise (2 requests in 2 ms is not "1000/s").
  ['requests/s', (m) => (requestsOf(m) < RATE_MIN_REQUESTS ? `- (${requestsOf(m)} requests)` : String(m.requestsPerSecond))],
];

/**
 * A scenario's reports for a person: one table with a column per client model (the difference
 * at a glance), then each client's expectations ✔/✖ and its verdict line.
 */
export function replayPretty(scenario: Scenario, fromTarget: readonly ReplayReport[], c: ChalkInstance): string {
  const reports = terminalSafeDeep(fromTarget);
  const table = new Table({
    head: ['', ...reports.map((report) => c.bold(report.client))],
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const [label, value] of METRIC_ROWS) table.push({ [label]: reports.map((report) => value(report.metrics)) });
  const detailKeys = [...new Set(reports.flatMap((report) => Object.keys(report.details)))];
  for (const key of detailKeys) table.push({ [key]: reports.map((report) => String(report.details[key] ?? '-')) });

  const lines = [`${c.bold(`▶ ${scenario.name}`)} ${c.dim(scenario.description)}`, table.toString()];
  for (const report of reports) {
    const met = report.expectations.filter((item) => item.met).length;
    const verdict = report.verdict === 'pass' ? c.green.bold('✔ PASS') : c.red.bold('✖ FAIL');
    const interrupted = report.interrupted ? c.red(' (interrupted by Ctrl-C: not a pass)') : '';
    lines.push(`${verdict} ${scenario.name} with the ${report.client} client: ${met}/${report.expectations.length} expectations met${interrupted}`);
    for (const item of report.expectations) {
      const mark = item.met ? c.green('  ✔') : c.red('  ✖');
      const observed = item.met ? c.dim(item.observed) : c.red(item.observed);
      lines.push(`${mark} ${item.name}: ${observed}${item.met ? '' : c.dim(` (expected ${item.expected})`)}`);
    }
  }
  return `${lines.join('\n')}\n\n`;
}
