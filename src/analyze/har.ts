import type { ProfileTerminal } from '../engine/target.js';
import type { RecordFields } from './record.js';

/**
 * A HAR is one JSON document, so it is parsed whole rather than streamed; files over this bound
 * are refused with a message that says so (a browser's HAR export is rarely a tenth of it).
 */
export const HAR_MAX_BYTES = 256 * 1024 * 1024;

interface HarHeader {
  name: string;
  value: string;
}

interface HarEntry {
  startedDateTime?: string;
  time?: number;
  request?: { method?: string; url?: string; headers?: HarHeader[] };
  response?: { status?: number; headers?: HarHeader[]; bodySize?: number; content?: { size?: number; mimeType?: string; text?: string; encoding?: string } };
  /** Chromium's DevTools export keeps event-stream messages here (and WebSocket frames in `_webSocketMessages`). */
  _eventSourceMessages?: { data?: string; type?: string; eventName?: string }[];
  _webSocketMessages?: { data?: string; type?: string }[];
}

const header = (headers: HarHeader[] | undefined, name: string) => headers?.find((h) => h.name.toLowerCase() === name)?.value;

/** Whether one event's data or type is terminal by the profile. */
function isTerminalEvent(type: string | undefined, data: string, terminal: ProfileTerminal): boolean {
  if (type !== undefined && terminal.eventTypes.includes(type)) return true;
  try {
    const parsed = JSON.parse(data) as { status?: unknown; stage?: unknown };
    return terminal.statuses.includes(String(parsed.status)) || terminal.stages.includes(String(parsed.stage));
  } catch {
    return false;
  }
}

/** Events and whether one was terminal, from an event-stream body as text. */
function streamEvents(text: string, terminal: ProfileTerminal): { events: number; terminal: boolean } {
  let events = 0;
  let sawTerminal = false;
  for (const block of text.split(/\r?\n\r?\n|\r\r/)) {
    let type: string | undefined;
    const data: string[] = [];
    for (const line of block.split(/\r\n|\r|\n/)) {
      if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      else if (line.startsWith('event:')) type = line.slice(6).trim();
    }
    if (data.length === 0) continue;
    events++;
    if (isTerminalEvent(type, data.join('\n'), terminal)) sawTerminal = true;
  }
  return { events, terminal: sawTerminal };
}

/** A JSON body (a status answer, a 400's detail) that names a terminal status. */
function bodySaysTerminal(text: string | undefined, terminal: ProfileTerminal): boolean {
  if (text === undefined || text === '') return false;
  try {
    const body = JSON.parse(text) as { status?: unknown; detail?: unknown };
    if (terminal.statuses.includes(String(body.status))) return true;
    return typeof body.detail === 'string' && terminal.statuses.some((status) => body.detail === status || new RegExp(`\\b${status}\\b`).test(body.detail as string));
  } catch {
    return false;
  }
}

/** 1-based line of each entry, found by the entries' `startedDateTime` keys in document order. */
function entryLines(text: string, count: number): number[] {
  const lines: number[] = [];
  let at = text.indexOf('"entries"');
  let line = 1;
  let counted = 0;
  for (let i = 0; i < count && at >= 0; i++) {
    at = text.indexOf('"startedDateTime"', at + 1);
    if (at < 0) break;
    for (let j = counted; j < at; j++) if (text.charCodeAt(j) === 10) line++;
    counted = at;
    lines.push(line);
  }
  return lines;
}

/**
 * The records of a HAR 1.2 document, one per entry, in start order. Event-stream bodies (where
 * the recorder kept them) and Chromium's `_eventSourceMessages` give events and terminal events.
 */
export function harRecords(text: string, client: string, terminal: ProfileTerminal): { records: RecordFields[]; unreadable: number[] } {
  const document = JSON.parse(text) as { log?: { entries?: HarEntry[] } };
  const entries = document.log?.entries;
  if (!Array.isArray(entries)) throw new SyntaxError('no log.entries array: not a HAR file');
  const lines = text.includes('\n') ? entryLines(text, entries.length) : entries.map((_, index) => index + 1);
  const records: RecordFields[] = [];
  const unreadable: number[] = [];
  entries.forEach((entry, index) => {
    const line = lines[index] ?? index + 1;
    const url = entry.request?.url;
    const method = entry.request?.method;
    const startMs = entry.startedDateTime === undefined ? NaN : Date.parse(entry.startedDateTime);
    if (typeof url !== 'string' || typeof method !== 'string' || Number.isNaN(startMs)) {
      unreadable.push(line);
      return;
    }
    let target: string;
    try {
      const parsed = new URL(url);
      target = parsed.pathname + parsed.search;
    } catch {
      unreadable.push(line);
      return;
    }
    const response = entry.response;
    const status = typeof response?.status === 'number' && response.status > 0 ? response.status : undefined;
    const content = response?.content;
    const text_ = content?.encoding === 'base64' && content.text !== undefined ? Buffer.from(content.text, 'base64').toString('utf8') : content?.text;
    const messages = entry._eventSourceMessages ?? [];
    let events: number | undefined;
    let terminalEvent = false;
    if (messages.length > 0) {
      events = messages.length;
      terminalEvent = messages.some((message) => isTerminalEvent(message.eventName ?? message.type, message.data ?? '', terminal));
    } else if (content?.mimeType?.startsWith('text/event-stream') && text_ !== undefined) {
      const seen = streamEvents(text_, terminal);
      events = seen.events;
      terminalEvent = seen.terminal;
    }
    const retryAfter = Number(header(response?.headers, 'retry-after'));
    records.push({
      target,
      line,
      client,
      method,
      status,
      startMs,
      endMs: typeof entry.time === 'number' && entry.time >= 0 ? startMs + entry.time : undefined,
      bytes: content?.size,
      events,
      terminalEvent,
      saysTerminal: status !== undefined && !content?.mimeType?.startsWith('text/event-stream') && bodySaysTerminal(text_, terminal),
      retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter >= 0 && header(response?.headers, 'retry-after') !== undefined ? retryAfter : undefined,
      // A browser EventSource sends the header on its own reconnects; pages that open a new one pass it in the query.
      lastEventId: header(entry.request?.headers, 'last-event-id') ?? (new URL(url).searchParams.get('lastEventId') || undefined),
    });
  });
  records.sort((a, b) => (a.startMs ?? 0) - (b.startMs ?? 0));
  return { records, unreadable };
}
