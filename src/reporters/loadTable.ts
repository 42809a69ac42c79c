import { terminalSafeDeep } from './terminalText.js';
import { describeTransportFailure, type TransportFailureKind } from '../engine/connection.js';
import type { ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import { LATENCY_METRICS, type LatencyMetric } from '../load/part.js';
import type { LoadReport } from '../load/report.js';

const LATENCY_LABELS: Record<LatencyMetric, string> = {
  tokenRequest: 'token request',
  headers: 'time to headers',
  firstEvent: 'time to first event',
  gap: 'gap (events, heartbeats)',
  streamDuration: 'stream duration',
};

const count = (n: number) => n.toLocaleString('en-US');
const ms = (value: number) => (value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${value >= 100 ? Math.round(value) : value.toFixed(1)} ms`);
const percent = (fraction: number) => `${(fraction * 100).toFixed(fraction > 0 && fraction < 0.001 ? 3 : 1)}%`;

/** The human report of a load run: figures, latencies, errors, thresholds, verdict. */
export function loadTable(fromTarget: LoadReport, c: ChalkInstance): string {
  const report = terminalSafeDeep(fromTarget);
  const { metrics, settings } = report;
  const lines: string[] = [];
  const who =
    settings.arrival === 'open' ? `${settings.ratePerSecond} clients/s (open model)` : `${count(settings.clients)} clients (closed model)`;
  lines.push(
    c.bold(`sse-doctor load: ${settings.mode === 'token-spam' ? 'token spam' : 'streams'} against ${settings.target}`),
    c.dim(`${who}, ${settings.client} client, ${(metrics.durationMs / 1000).toFixed(1)} s, ${metrics.processes} process${metrics.processes === 1 ? '' : 'es'}${report.shardsMerged.length > 0 ? `, shards ${report.shardsMerged.join(',')}` : ''}${report.stoppedEarly ? ', interrupted (Ctrl-C): not a pass' : ''}`),
    '',
  );

  const figures = new Table({ style: { head: [], border: [] } });
  figures.push(
    ['flows', count(metrics.flows)],
    ['streams opened', count(metrics.streamsOpened)],
    ['peak open streams', count(metrics.peakOpenStreams)],
    ['events', `${count(metrics.events)} (${count(metrics.eventsPerSecond)}/s)`],
    ['token requests', count(metrics.tokenRequests)],
    ['429 rate', metrics.rate429 > 0 ? c.yellow(percent(metrics.rate429)) : percent(0)],
    ['reconnects', count(metrics.reconnects)],
    ['errors', sumErrors(metrics.errors) > 0 ? c.red(`${count(sumErrors(metrics.errors))} (${percent(metrics.errorRate)} of requests)`) : '0'],
    ['responses', describeResponses(metrics.responses)],
    ['event-loop lag (tool)', `p50 ${ms(metrics.eventLoopLagMs.p50)}, p99 ${ms(metrics.eventLoopLagMs.p99)}, max ${ms(metrics.eventLoopLagMs.max)}`],
  );
  lines.push(figures.toString(), '');

  const latencies = new Table({ head: ['latency', 'count', 'p50', 'p95', 'p99', 'max'], style: { head: [], border: [] } });
  for (const metric of LATENCY_METRICS) {
    const summary = metrics.latencyMs[metric];
    if (summary.count === 0) continue;
    latencies.push([LATENCY_LABELS[metric], count(summary.count), ms(summary.p50), ms(summary.p95), ms(summary.p99), ms(summary.max)]);
  }
  if (latencies.length > 0) lines.push(latencies.toString(), '');

  const errorKinds = Object.entries(metrics.errors).sort(([, a], [, b]) => b - a);
  if (errorKinds.length > 0) {
    const errors = new Table({ head: ['error', 'count'], style: { head: [], border: [] } });
    for (const [kind, n] of errorKinds) errors.push([`${describeLoadError(kind)} ${c.dim(`(${kind})`)}`, count(n)]);
    lines.push(errors.toString(), '');
  }

  for (const warning of report.warnings) lines.push(c.yellow(`⚠ ${warning}`));
  for (const result of report.thresholds) {
    const actual = Number.isInteger(result.actual) ? String(result.actual) : result.actual.toFixed(4).replace(/0+$/, '');
    lines.push(result.ok ? `${c.green('✓')} ${result.threshold} ${c.dim(`(${actual})`)}` : `${c.red('✗')} ${result.threshold} ${c.red(`missed: ${actual}`)}`);
  }
  if (report.thresholds.length > 0) lines.push(report.verdict === 'pass' ? c.green('all thresholds held') : c.red('threshold missed'));
  return `${lines.join('\n').trimEnd()}\n`;
}

function sumErrors(errors: Readonly<Record<string, number>>): number {
  return Object.values(errors).reduce((sum, n) => sum + n, 0);
}

function describeResponses(responses: LoadReport['metrics']['responses']): string {
  const parts: string[] = [];
  for (const [endpoint, byStatus] of Object.entries(responses)) {
    const statuses = Object.entries(byStatus).map(([status, n]) => `${status}×${count(n)}`);
    if (statuses.length > 0) parts.push(`${endpoint} ${statuses.join(' ')}`);
  }
  return parts.join('; ') || 'none';
}

const TRANSPORT_KINDS: readonly TransportFailureKind[] = ['unreachable', 'timeout', 'tls', 'protocol', 'closed-before-answer', 'reset', 'abrupt-close', 'local-limit'];

const STREAM_END_WORDS: Readonly<Record<string, string>> = {
  'closed-without-terminal': 'stream closed without a terminal event',
  'timeout-connect': 'stream: could not connect in time',
  'timeout-headers': 'stream: no response headers in time',
  silence: 'stream went silent (client watchdog)',
  lingered: 'stream stayed open after its terminal event',
  'max-duration': 'stream outlived the duration cap',
  'wrong-content-type': 'stream was not text/event-stream',
  'binary-body': 'stream body was binary, not events',
  'line-too-long': 'stream sent an event too long to hold',
};

/** A load error's key (`token-abrupt-close`, `http-502`) in plain words; the key stays beside it for scripts. */
export function describeLoadError(kind: string): string {
  const words = STREAM_END_WORDS[kind];
  if (words !== undefined) return words;
  const dash = kind.indexOf('-');
  const phase = kind.slice(0, dash);
  const what = kind.slice(dash + 1);
  const where = phase === 'create' ? 'create request' : phase === 'token' ? 'token request' : 'stream';
  if (/^\d+$/.test(what)) return `${where} answered HTTP ${what}`;
  const transport = (TRANSPORT_KINDS as readonly string[]).includes(kind) ? kind : what;
  return (TRANSPORT_KINDS as readonly string[]).includes(transport) ? `${where}: ${describeTransportFailure(transport as TransportFailureKind, 'UNKNOWN')}` : kind;
}
