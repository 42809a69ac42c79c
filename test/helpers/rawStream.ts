import { connect } from 'node:net';
import { createGunzip } from 'node:zlib';
import { createParser } from 'eventsource-parser';

/** An event as it came off the wire, decoded, with its arrival time (epoch ms) and its JSON `timestamp`, if any. */
export interface RawEvent {
  readonly at: number;
  readonly event: string | undefined;
  readonly data: string;
  /** The event's own `timestamp` (unix seconds) in epoch ms. */
  readonly producedAt: number | undefined;
}

/** What one HTTP/1.1 GET showed, byte for byte, with nothing in between to decode, buffer or retry. */
export interface RawCapture {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Epoch ms when the request was written, and when the end of the headers arrived. */
  readonly sentAt: number;
  readonly headersAt: number;
  readonly events: readonly RawEvent[];
  readonly comments: readonly { at: number; text: string }[];
  /** `eof`: the chunked body's last chunk arrived; `cut`: the connection closed before it; `aborted`: we stopped at `maxMs`. */
  readonly ending: 'eof' | 'cut' | 'aborted';
  readonly endedAt: number;
  /** Body bytes as they came, before any gzip decoding. */
  readonly wireBytes: number;
}

/**
 * GETs `url` over a plain socket, asking like a browser (`Accept-Encoding: gzip` unless told
 * otherwise), and decodes the chunked body and gzip itself, so every delay, compression and cut
 * a proxy causes is seen as is.
 */
export function rawGet(url: string, options: { headers?: Record<string, string>; maxMs?: number } = {}): Promise<RawCapture> {
  const target = new URL(url);
  const requestHeaders: Record<string, string> = {
    Host: target.host,
    Accept: 'text/event-stream',
    'Accept-Encoding': 'gzip, deflate, br',
    'Cache-Control': 'no-cache',
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const socket = connect(Number(target.port), target.hostname);
    const sentAt = Date.now();
    let head = Buffer.alloc(0);
    let headersAt = 0;
    let status = 0;
    let headers: Record<string, string> = {};
    let pending = Buffer.alloc(0);
    let wireBytes = 0;
    let sawLastChunk = false;
    let aborted = false;
    const events: RawEvent[] = [];
    const comments: { at: number; text: string }[] = [];
    const parser = createParser({
      onEvent: (event) => events.push({ at: Date.now(), event: event.event, data: event.data, producedAt: producedAt(event.data) }),
      onComment: (text) => comments.push({ at: Date.now(), text: text.trim() }),
    });
    let gunzip: ReturnType<typeof createGunzip> | undefined;
    const feed = (bytes: Buffer) => {
      wireBytes += bytes.length;
      if (gunzip) gunzip.write(bytes);
      else parser.feed(bytes.toString('utf8'));
    };
    const timer = options.maxMs === undefined ? undefined : setTimeout(() => ((aborted = true), socket.destroy()), options.maxMs);

    socket.on('connect', () => {
      const lines = Object.entries(requestHeaders).map(([name, value]) => `${name}: ${value}`);
      socket.write(`GET ${target.pathname}${target.search} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      if (headersAt === 0) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        headersAt = Date.now();
        const [statusLine, ...headerLines] = head.subarray(0, end).toString('latin1').split('\r\n');
        status = Number(statusLine?.split(' ')[1]);
        headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
        if (headers['content-encoding'] === 'gzip') {
          gunzip = createGunzip();
          gunzip.on('data', (decoded: Buffer) => parser.feed(decoded.toString('utf8')));
          gunzip.on('error', () => undefined);
        }
        chunk = head.subarray(end + 4);
      }
      if (headers['transfer-encoding'] !== 'chunked') {
        feed(chunk);
        return;
      }
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const lineEnd = pending.indexOf('\r\n');
        if (lineEnd < 0) return;
        const size = parseInt(pending.subarray(0, lineEnd).toString('latin1'), 16);
        if (size === 0) {
          sawLastChunk = true;
          socket.end();
          return;
        }
        if (pending.length < lineEnd + 2 + size + 2) return;
        feed(pending.subarray(lineEnd + 2, lineEnd + 2 + size));
        pending = pending.subarray(lineEnd + 2 + size + 2);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      if (headersAt === 0) {
        reject(new Error(`${url}: the connection closed before any response headers`));
        return;
      }
      const finish = () =>
        resolve({
          status,
          headers,
          sentAt,
          headersAt,
          events,
          comments,
          ending: aborted ? 'aborted' : sawLastChunk || wireBytes === Number(headers['content-length']) ? 'eof' : 'cut',
          endedAt: Date.now(),
          wireBytes,
        });
      if (gunzip) gunzip.end(finish);
      else finish();
    });
  });
}

function producedAt(data: string): number | undefined {
  try {
    const timestamp = (JSON.parse(data) as { timestamp?: unknown }).timestamp;
    return typeof timestamp === 'number' ? timestamp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
