import { terminalSafeDeep } from './terminalText.js';
import type { ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import type { TailItem, TailSummary } from './tailItems.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(3)}s`;
const gap = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms)}ms`);

/** One human line per tail item, without its newline (undefined: nothing to show). */
export function tailPrettyLine(fromTarget: TailItem, c: ChalkInstance): string | undefined {
  const item = terminalSafeDeep(fromTarget);
  const at = (t: number) => c.dim(`+${seconds(t).padStart(8)}`);
  switch (item.kind) {
    case 'generation':
      return `${at(item.t)} ${item.created ? 'created' : 'following'} generation ${c.bold(item.id)}`;
    case 'token':
      return item.status === 200
        ? `${at(item.t)} ${c.green('token')} ${item.token ?? ''} ${c.dim(`(${Math.round(item.latencyMs)} ms)`)}`
        : `${at(item.t)} ${c.red(`token ${item.status}`)} ${item.detail ?? ''}${item.meaning ? c.dim(`: ${item.meaning}`) : ''}`;
    case 'connect':
      return `${at(item.t)} ${c.cyan('connect')} #${item.attempt} ${c.dim(item.url)}${item.lastEventId ? ` Last-Event-ID: ${item.lastEventId}` : ''}`;
    case 'open':
      return `${at(item.t)} ${item.status === 200 ? c.green(String(item.status)) : c.red(String(item.status))} ${item.contentType ?? c.yellow('(no content type)')} ${c.dim(`headers in ${Math.round(item.headersMs)} ms`)}${item.traceId ? c.dim(` trace ${item.traceId}`) : ''}`;
    case 'event':
      return item.heartbeat ? c.dim(`${at(item.t)} Δ${gap(item.gapMs).padStart(6)} ♥ ${item.event ?? 'heartbeat'}`) : eventLine(item, at, c);
    case 'comment':
      return c.dim(`${at(item.t)} Δ${gap(item.gapMs).padStart(6)} ♥ :${item.text}`);
    case 'diagnostic':
      return `${at(item.t)} ${item.level === 'warn' ? c.yellow(`⚠ ${item.message}`) : c.dim(`ℹ ${item.message}`)}`;
    case 'end':
      return `${at(item.t)} ${item.how === 'clean-terminal' ? c.green('■ end') : c.yellow('■ end')} ${item.description} ${c.dim(`after ${item.events} events, ${gap(item.durationMs)}`)}`;
    case 'reconnect':
      return `${at(item.t)} ${c.magenta('↻ reconnect')} in ${gap(item.delayMs)} (retry ${item.retry}/${item.maxRetries}): ${item.reason}`;
    case 'stop':
      return `${at(item.t)} ${item.gaveUp ? c.red('✖ gave up') : c.bold('● stop')}: ${item.reason}`;
    case 'summary':
      return tailSummaryTable(item, c);
  }
}

function eventLine(item: Extract<TailItem, { kind: 'event' }>, at: (t: number) => string, c: ChalkInstance): string {
  const fields = contractFields(item.data);
  const type = (item.event ?? 'message').padEnd(13);
  const id = item.id !== null ? `#${item.id}`.padEnd(5) : '     ';
  const head = `${at(item.t)} Δ${gap(item.gapMs).padStart(6)} ${c.dim(id)} ${c.bold(type)}`;
  // Data that is not a contract event (a chat chunk, plain text) is its own content.
  if (!fields || Object.values(fields).every((value) => value === undefined)) return `${head} ${truncate(item.data, 100)}`;
  const state = [fields.status, fields.stage].filter(Boolean).join('/');
  const progress = fields.progress !== undefined ? `${Math.round(fields.progress * 100)}%`.padStart(4) : '    ';
  const colour = fields.status === 'failed' ? c.red : fields.status === 'completed' ? c.green : (text: string) => text;
  return `${head} ${colour(state.padEnd(22))} ${progress} ${truncate(fields.message ?? '', 80)}`;
}

function contractFields(data: string): { status?: string; stage?: string; progress?: number; message?: string } | undefined {
  try {
    const value = JSON.parse(data) as Record<string, unknown>;
    if (typeof value !== 'object' || value === null) return undefined;
    // JSON.parse turns the escaped `\u001b` of the (already safe) data back into a raw ESC.
    return terminalSafeDeep({
      status: typeof value.status === 'string' ? value.status : undefined,
      stage: typeof value.stage === 'string' ? value.stage : undefined,
      progress: typeof value.progress === 'number' ? value.progress : undefined,
      message: typeof value.message === 'string' ? value.message : typeof value.text === 'string' ? value.text : undefined,
    });
  } catch {
    return undefined;
  }
}

function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

function tailSummaryTable(summary: TailSummary, c: ChalkInstance): string {
  const table = new Table({
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  const verdict = summary.interrupted
    ? c.red('interrupted (Ctrl-C): not ok')
    : summary.ok
      ? c.green('ok: terminal event, clean close')
      : c.red(summary.buffered ? 'not ok: events held back on the way (buffering in the path)' : summary.idleTimeoutMs !== null ? 'not ok: cut by an idle timeout in the path' : 'not ok');
  const ms = (value: number | null) => (value === null ? '-' : gap(value));
  table.push(
    { duration: seconds(summary.durationMs) },
    { events: String(summary.events) },
    { heartbeats: String(summary.heartbeats) },
    { 'longest gap': gap(summary.longestGapMs) },
    { 'headers after': ms(summary.headersMs) },
    { 'first event after': ms(summary.firstEventMs) },
    { 'held back': summary.heldBackMs === null ? '- (no timestamps)' : gap(summary.heldBackMs) },
    ...(summary.idleTimeoutMs === null ? [] : [{ 'idle timeout': `about ${gap(summary.idleTimeoutMs)} (cut after the same silence twice)` }]),
    { reconnects: String(summary.reconnects) },
    { 'token requests': String(summary.tokenRequests) },
    { 'duplicate ids': String(summary.duplicates) },
    { 'missing ids': String(summary.missing) },
    { 'final status': [summary.finalStatus, summary.finalStage].filter(Boolean).join('/') || '-' },
    { 'stream ended': summary.endedHow },
    { stopped: summary.stopReason },
    { verdict },
  );
  return table.toString();
}
