import { holdsAt, type LogFormat, type RecordFields } from './record.js';

/** Reads one line: emits the records it shows and says whether the line was readable at all. */
export interface LineReader {
  /** Smallest time step the format's timestamps resolve (ms); delays under it read as "at once". */
  readonly resolutionMs: number;
  read(line: string, lineNumber: number, emit: (record: RecordFields) => void): boolean;
}

/** Field names of a JSON-lines log, from the config file's `logFields` (dotted paths allowed). */
export interface JsonFieldMap {
  readonly time?: string;
  readonly client?: string;
  readonly method?: string;
  readonly path?: string;
  readonly status?: string;
  readonly durationMs?: string;
  readonly bytes?: string;
  readonly events?: string;
}

const MONTHS: Readonly<Record<string, number>> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

const TIME_LOCAL = /^(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

/** `10/Oct/2000:13:55:36 -0700` to epoch ms; undefined when it is not one. */
function timeLocalMs(text: string): number | undefined {
  const m = TIME_LOCAL.exec(text);
  const month = m === null ? undefined : MONTHS[m[2]!];
  if (m === null || month === undefined) return undefined;
  const offsetMs = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9])) * 60_000;
  return Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])) - offsetMs;
}

const SPACE = 32;
const QUOTE = 34;
const DASH = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const OPEN_BRACKET = 91;

/** Whether the character at `at` is a digit. */
function isDigit(line: string, at: number): boolean {
  const code = line.charCodeAt(at);
  return code >= ZERO && code <= NINE;
}

/** The digits from `from` to `to` (exclusive) as a number; -1 when there are none or one is not a digit. */
function digitsBetween(line: string, from: number, to: number): number {
  if (to <= from) return -1;
  let value = 0;
  for (let at = from; at < to; at++) {
    if (!isDigit(line, at)) return -1;
    value = value * 10 + line.charCodeAt(at) - ZERO;
  }
  return value;
}

/**
 * Where the fields of one nginx line are, found by `scanNginx`: one per reader, filled again for
 * every line, so reading a line cuts only the substrings a record keeps.
 */
class NginxFields {
  addressEnd = 0;
  userStart = 0;
  userEnd = 0;
  timeStart = 0;
  timeEnd = 0;
  methodStart = 0;
  methodEnd = 0;
  targetEnd = 0;
  status = 0;
  bytes = 0;
  /** `$request_time` in ms, where the line ends with one. */
  durationMs: number | undefined;
}

/**
 * `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer"
 * "$http_user_agent"`, then `$request_time` (bare or as `rt=`) where the format adds it after the
 * last quoted field. nginx escapes quotes and spaces inside values (`\x22`), so fields end at the
 * next space or quote.
 * A hand-written scan, not a regular expression: it is the cost of every line of a long log.
 */
function scanNginx(line: string, fields: NginxFields): boolean {
  const addressEnd = line.indexOf(' ');
  if (addressEnd <= 0) return false;
  const identEnd = line.indexOf(' ', addressEnd + 1);
  if (identEnd <= addressEnd + 1) return false;
  const userEnd = line.indexOf(' ', identEnd + 1);
  if (userEnd <= identEnd + 1 || line.charCodeAt(userEnd + 1) !== OPEN_BRACKET) return false;
  const timeStart = userEnd + 2;
  const timeEnd = line.indexOf(']', timeStart);
  if (timeEnd <= timeStart || line.charCodeAt(timeEnd + 1) !== SPACE || line.charCodeAt(timeEnd + 2) !== QUOTE) return false;
  const methodStart = timeEnd + 3;
  const requestEnd = line.indexOf('"', methodStart);
  const methodEnd = line.indexOf(' ', methodStart);
  if (requestEnd < 0 || methodEnd <= methodStart || methodEnd >= requestEnd) return false;
  const targetSpace = line.indexOf(' ', methodEnd + 1);
  const targetEnd = targetSpace < 0 || targetSpace > requestEnd ? requestEnd : targetSpace;
  if (targetEnd === methodEnd + 1 || line.charCodeAt(requestEnd + 1) !== SPACE || line.charCodeAt(requestEnd + 5) !== SPACE) return false;
  const status = digitsBetween(line, requestEnd + 2, requestEnd + 5);
  const bytesStart = requestEnd + 6;
  const bytesEnd = line.indexOf(' ', bytesStart);
  // `-`: nothing sent.
  const bytes = bytesEnd === bytesStart + 1 && line.charCodeAt(bytesStart) === DASH ? 0 : digitsBetween(line, bytesStart, bytesEnd);
  if (status < 0 || bytes < 0 || line.charCodeAt(bytesEnd + 1) !== QUOTE) return false;
  // The referer and the user agent are not read: the agent ends at the line's last quote.
  const agentEnd = line.lastIndexOf('"');
  if (agentEnd < bytesEnd + 5) return false;
  fields.addressEnd = addressEnd;
  fields.userStart = identEnd + 1;
  fields.userEnd = userEnd;
  fields.timeStart = timeStart;
  fields.timeEnd = timeEnd;
  fields.methodStart = methodStart;
  fields.methodEnd = methodEnd;
  fields.targetEnd = targetEnd;
  fields.status = status;
  fields.bytes = bytes;
  fields.durationMs = line.charCodeAt(agentEnd + 1) === SPACE ? secondsAsMs(line, holdsAt(line, 'rt=', agentEnd + 2) ? agentEnd + 5 : agentEnd + 2) : undefined;
  return true;
}

/** `30.012` at `from` as 30012 ms, exactly; undefined when no digit is there. */
function secondsAsMs(line: string, from: number): number | undefined {
  let at = from;
  let whole = 0;
  while (isDigit(line, at)) whole = whole * 10 + line.charCodeAt(at++) - ZERO;
  if (at === from) return undefined;
  let fraction = 0;
  let scale = 1;
  if (line.charCodeAt(at) === DOT && isDigit(line, at + 1)) {
    at++;
    while (isDigit(line, at)) {
      fraction = fraction * 10 + line.charCodeAt(at++) - ZERO;
      scale *= 10;
    }
  }
  return whole * 1000 + (fraction * 1000) / scale;
}

const METHODS = ['GET', 'POST', 'OPTIONS', 'HEAD', 'PUT', 'DELETE', 'PATCH'];

/** The method between `from` and `to`: a common one is the same string every time, not a new one per line. */
function methodAt(line: string, from: number, to: number): string {
  for (const method of METHODS) if (method.length === to - from && holdsAt(line, method, from)) return method;
  return line.slice(from, to);
}

/**
 * nginx `combined`, and the variant with `$request_time` appended. nginx writes the line when the
 * response ends, at the second: the end time is `$time_local`, the start that minus the request time.
 */
export class NginxReader implements LineReader {
  readonly resolutionMs = 1000;
  private readonly fields = new NginxFields();
  // Hundreds of lines share one second: its text is parsed once, then only compared.
  private lastTimeText = '';
  private lastTimeMs: number | undefined;

  read(line: string, lineNumber: number, emit: (record: RecordFields) => void): boolean {
    const { fields } = this;
    if (!scanNginx(line, fields)) return false;
    const timeText = line.slice(fields.timeStart, fields.timeEnd);
    if (timeText !== this.lastTimeText) {
      this.lastTimeText = timeText;
      this.lastTimeMs = timeLocalMs(timeText);
    }
    const endMs = this.lastTimeMs;
    if (endMs === undefined) return false;
    const { durationMs } = fields;
    const user = fields.userEnd - fields.userStart === 1 && line.charCodeAt(fields.userStart) === DASH ? undefined : line.slice(fields.userStart, fields.userEnd);
    emit({
      target: line.slice(fields.methodEnd + 1, fields.targetEnd),
      line: lineNumber,
      client: user ?? line.slice(0, fields.addressEnd),
      method: methodAt(line, fields.methodStart, fields.methodEnd),
      status: fields.status,
      endMs,
      startMs: durationMs === undefined ? undefined : endMs - durationMs,
      bytes: fields.bytes,
    });
    return true;
  }
}

// A timestamp a logging config (`asctime`) or a container runtime (`docker logs -t`) puts first.
const LEADING_TIME = /^\[?(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?\]?/;
const UVICORN_ACCESS = /(\S+?):\d+ - "(\S+) (\S+) HTTP\/[\d.]+" (\d{3})/;

function leadingTimeMs(line: string): number | undefined {
  const m = LEADING_TIME.exec(line);
  if (m === null) return undefined;
  const fraction = m[7] === undefined ? 0 : Number(`0.${m[7]}`) * 1000;
  const zone = m[8];
  const offsetMs = zone === undefined || zone === 'Z' ? 0 : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2))) * 60_000;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) + fraction - offsetMs;
}

/**
 * uvicorn's access log (`INFO:     127.0.0.1:53211 - "POST /... HTTP/1.1" 429 Too Many Requests`).
 * Its default has no time: order and counts only. A leading timestamp, where a logging config
 * or a container runtime adds one, is the time the response started.
 */
export class UvicornReader implements LineReader {
  resolutionMs = 1;

  read(line: string, lineNumber: number, emit: (record: RecordFields) => void): boolean {
    const m = UVICORN_ACCESS.exec(line);
    if (m === null) return /^(?:INFO|WARNING|ERROR|DEBUG|CRITICAL)\b/.test(line) || LEADING_TIME.test(line);
    const startMs = leadingTimeMs(line);
    emit({ target: m[3]!, line: lineNumber, client: m[1]!, method: m[2]!, status: Number(m[4]), startMs });
    return true;
  }
}

const APP_PREFIX = /^(?:(\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,3}))?\s+-\s+)?(?:(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+-\s+)?(.*)$/;
const APP_ACCESS = /"(\S+) (\S+) HTTP\/[\d.]+" (\d{3})/;
// `(×10)`, `(x10)`, and the seeds' own `(√ó10)`: a × that went through the wrong encoding once.
const TIMES = /\((?:[^\d()\s]{1,3}|times\s*)(\d+)\)/;
const LATER = /\((?:<\s*)?(\d+(?:\.\d+)?)\s*ms(?: later)?\)/;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const REPEATS = /^\.\.\.\s*repeats\s+(\d+)\+?\s+times/i;

/**
 * The application log lines of the seeds: `16:15:17 - SSE stream started`, `INFO - "POST
 * /stream-token HTTP/1.1" 400 Bad Request (×10)`, `WARNING - Attempted to stream failed
 * generation`, `... repeats 1000+ times`. Times are at the second; `(212ms later)` hints place
 * lines inside it. A repeat line replays the last cycle (from the last token request) N times.
 */
export class AppLogReader implements LineReader {
  readonly resolutionMs = 1;
  private clockMs: number | undefined;
  private generation: string | undefined;
  private openStream: { line: number; startMs: number | undefined } | undefined;
  private cycle: RecordFields[] = [];
  /** From the start of the cycle before to the start of the last one: how far apart repeats go. */
  private cycleStepMs: number | undefined;

  read(line: string, lineNumber: number, emit: (record: RecordFields) => void): boolean {
    const m = APP_PREFIX.exec(line.trim());
    const message = m?.[6] ?? '';
    const timed = m?.[1] !== undefined;
    if (timed) {
      const second = (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000 + Number(m[4] ?? 0);
      this.clockMs = this.clockMs === undefined || second > this.clockMs ? second : this.clockMs;
    }
    const later = LATER.exec(message);
    if (later !== null && this.clockMs !== undefined) this.clockMs += Number(later[1]);
    const times = Number(TIMES.exec(message)?.[1] ?? 1);
    const id = UUID.exec(message)?.[0];
    if (id !== undefined) this.generation = id;
    const base = { line: lineNumber, client: 'app', startMs: this.clockMs, generationHint: this.generation };
    const out = (record: RecordFields) => {
      if (record.method === 'POST') {
        const previousStart = this.cycle[0]?.startMs;
        if (previousStart !== undefined && record.startMs !== undefined) this.cycleStepMs = record.startMs - previousStart;
        this.cycle = [];
      }
      this.cycle.push(record);
      emit(record);
    };

    const access = APP_ACCESS.exec(message);
    if (access !== null) {
      for (let i = 0; i < times; i++) out({ ...base, target: access[2]!, method: access[1]!, status: Number(access[3]) });
      return true;
    }
    const repeats = REPEATS.exec(message);
    if (repeats !== null) {
      const cycle = this.cycle;
      const stepMs = Math.max(this.cycleStepMs ?? 0, 1);
      for (let i = 1; i < Number(repeats[1]); i++) {
        for (const record of cycle) {
          const shift = (ms: number | undefined) => (ms === undefined ? undefined : ms + i * stepMs);
          emit({ ...record, line: lineNumber, startMs: shift(record.startMs), endMs: shift(record.endMs) });
        }
      }
      return true;
    }
    if (/SSE stream started/i.test(message)) {
      this.openStream = { line: lineNumber, startMs: this.clockMs };
      return true;
    }
    if (/SSE stream closed/i.test(message)) {
      const startMs = this.openStream?.startMs ?? this.clockMs;
      const endMs = /IMMEDIATE/i.test(message) ? startMs : this.clockMs;
      out({ ...base, line: this.openStream?.line ?? lineNumber, method: 'GET', target: '/stream?token=(not logged)', status: 200, startMs, endMs, events: 0 });
      this.openStream = undefined;
      return true;
    }
    if (/(?:New|Generated SSE) token/i.test(message)) {
      out({ ...base, method: 'POST', target: '/stream-token', status: 200 });
      return true;
    }
    if (/stream (?:a )?(?:failed|cancelled|completed) generation|Error processing generation/i.test(message)) {
      // The backend itself says the generation is over: a record the timeline reads as knowledge, not a request.
      out({ ...base, method: 'GET', target: '/generations/{id}', status: 200, saysTerminal: true });
      return true;
    }
    return timed || m?.[5] !== undefined || message.startsWith('...');
  }
}

/** Reads a dotted path (`request.method`) out of a parsed JSON line. */
function field(object: unknown, path: string | undefined): unknown {
  if (path === undefined) return undefined;
  let value = object;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Epoch seconds, epoch ms or an ISO string, as JSON logs write times. */
function timeMs(value: unknown): number | undefined {
  if (typeof value === 'number') return value < 1e11 ? value * 1000 : value;
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

const DEFAULT_FIELDS: Required<JsonFieldMap> = {
  time: 'time',
  client: 'client',
  method: 'method',
  path: 'path',
  status: 'status',
  durationMs: 'durationMs',
  bytes: 'bytes',
  events: 'events',
};

/**
 * JSON lines: `proxy --json`'s own log (its `end` items hold the whole request; times are ms since
 * the proxy started), or any JSON-lines log through the config file's `logFields`.
 */
export class JsonLinesReader implements LineReader {
  readonly resolutionMs = 1;
  private readonly fields: Required<JsonFieldMap>;

  constructor(fields: JsonFieldMap = {}) {
    this.fields = { ...DEFAULT_FIELDS, ...fields };
  }

  read(line: string, lineNumber: number, emit: (record: RecordFields) => void): boolean {
    let item: unknown;
    try {
      item = JSON.parse(line);
    } catch {
      return false;
    }
    if (typeof item !== 'object' || item === null) return false;
    const kind = (item as { kind?: unknown }).kind;
    if (kind === 'listening' || kind === 'connection' || kind === 'summary') return true;
    const { fields } = this;
    const proxyEnd = kind === 'end';
    const method = field(item, fields.method);
    const target = field(item, fields.path);
    if (typeof method !== 'string' || typeof target !== 'string') return false;
    const status = Number(field(item, fields.status));
    const duration = Number(field(item, fields.durationMs));
    const at = proxyEnd ? Number((item as { t?: unknown }).t) : timeMs(field(item, fields.time));
    const durationMs = Number.isFinite(duration) ? duration : undefined;
    const client = field(item, fields.client);
    const events = Number(field(item, fields.events));
    const bytes = Number(field(item, fields.bytes));
    // The proxy shortens tokens (`7Lia…uVM`): still enough to tell them apart.
    emit({
      target: target.replace(/^https?:\/\/[^/]+/, ''),
      line: lineNumber,
      client: typeof client === 'string' || typeof client === 'number' ? String(client) : 'proxy',
      method,
      status: Number.isFinite(status) && status > 0 ? status : undefined,
      // A proxy `end` and most access logs are written when the response ends.
      endMs: at,
      startMs: at === undefined || durationMs === undefined ? at : at - durationMs,
      events: Number.isFinite(events) ? events : undefined,
      bytes: Number.isFinite(bytes) ? bytes : undefined,
    });
    return true;
  }
}

/** Which format a file's first line shows; undefined when none does. */
export function detectFormat(firstLine: string): LogFormat | undefined {
  const line = firstLine.trim();
  if (line === '{' || /^\{\s*"log"\s*:/.test(line)) return 'har';
  if (line.startsWith('{')) return 'jsonl';
  if (scanNginx(line, new NginxFields())) return 'nginx';
  if (UVICORN_ACCESS.test(line) && !/^\d{2}:\d{2}:\d{2}\s+-/.test(line) && !/^(?:INFO|WARNING|ERROR)\s+-/.test(line)) return 'uvicorn';
  if (/^(?:\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\s+-\s+|(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+-\s+)/.test(line)) return 'applog';
  if (/^(?:INFO|WARNING|ERROR|DEBUG):\s/.test(line) || LEADING_TIME.test(line)) return 'uvicorn';
  return undefined;
}
