import { terminalSafeDeep } from './terminalText.js';
import type { ChalkInstance } from 'chalk';
import type { FaultRules, ProxyConnection, ProxyConnectionEnd } from '../proxy/faultProxy.js';

/** What `proxy` logs, item by item. Times are ms since the proxy started. */
export type ProxyLogItem =
  | { readonly kind: 'listening'; readonly url: string; readonly target: string; readonly rules: FaultRules }
  | ({ readonly kind: 'connection' } & ProxyConnection)
  | ({ readonly kind: 'end' } & ProxyConnectionEnd)
  | { readonly kind: 'summary'; readonly requests: number; readonly streams: number; readonly cuts: number };

const time = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

/** What the rules do, in words, for the banner. */
export function describeRules(rules: FaultRules): string {
  const parts: string[] = [];
  const how = rules.reset ? 'a reset (RST)' : 'a FIN';
  if (rules.cutAfterEvents !== undefined) parts.push(`cut every stream after ${rules.cutAfterEvents} events with ${how}`);
  if (rules.cutAfterMs !== undefined) parts.push(`cut every stream after ${time(rules.cutAfterMs)} with ${how}`);
  if (rules.latencyMs > 0) parts.push(`add ${time(rules.latencyMs)} latency`);
  if (rules.bufferMs > 0) parts.push(`buffer streams, flushing every ${time(rules.bufferMs)}`);
  return parts.length === 0 ? 'pass everything through untouched' : parts.join('; ');
}

const ACTION_WORDS: Readonly<Record<ProxyConnectionEnd['action'], string>> = {
  passed: 'passed',
  'cut-fin': '✂ cut (FIN)',
  'cut-rst': '✂ cut (RST)',
  'client-closed': 'client closed',
  'target-closed': 'target closed abruptly',
  'target-unreachable': 'no answer from the target (502)',
};

/** One human line per log item; the first line is the listen URL alone, for scripts to read. */
export function proxyPrettyLine(fromTarget: ProxyLogItem, c: ChalkInstance): string {
  const item = terminalSafeDeep(fromTarget);
  const at = (t: number) => c.dim(`+${(t / 1000).toFixed(3).padStart(8)}s`);
  switch (item.kind) {
    case 'listening':
      return `${item.url}\n${c.dim(`proxying to ${item.target}: ${describeRules(item.rules)}; Ctrl-C to stop`)}`;
    case 'connection':
      return `${at(item.t)} ${c.dim(`#${item.id}`)} ${c.cyan('→')} ${item.method} ${item.path}${item.lastEventId === undefined ? '' : ` Last-Event-ID: ${item.lastEventId}`}${item.reconnectDelayMs === undefined ? '' : c.magenta(` (reconnected ${time(item.reconnectDelayMs)} after the previous one ended)`)}${item.tokenReused ? c.yellow(' (token used before)') : ''}`;
    case 'end': {
      const action = item.action.startsWith('cut') ? c.yellow(ACTION_WORDS[item.action]) : item.action === 'passed' ? ACTION_WORDS[item.action] : c.red(ACTION_WORDS[item.action]);
      const status = item.status === undefined ? '-' : item.status < 400 ? c.green(String(item.status)) : c.red(String(item.status));
      const figures = item.stream ? `${item.events} events, ${item.bytes} B, ${time(item.durationMs)}` : time(item.durationMs);
      const reuse = item.tokenReused && (item.status === 401 || item.status === 403) ? c.red(` ⚠ reused a single-use token, answered ${item.status}: the client reconnects to the same URL (a browser EventSource does) instead of fetching a fresh token`) : '';
      const cause = item.cause === undefined ? '' : c.red(`: ${item.cause}`);
      return `${at(item.t)} ${c.dim(`#${item.id}`)} ${c.cyan('←')} ${status} ${action}${cause} ${c.dim(figures)} ${c.dim(`${item.method} ${item.path}`)}${reuse}`;
    }
    case 'summary':
      return c.bold(`requests: ${item.requests}, streams: ${item.streams}, cut: ${item.cuts}`);
  }
}
