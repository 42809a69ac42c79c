import { createParser } from 'eventsource-parser';
import { request } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';

/** A JSON exchange with the reference server. */
export interface JsonReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: any;
}

/** Sends a JSON request to `baseUrl + path` as `user` (no Authorization when undefined). */
export async function call(
  baseUrl: string,
  method: 'GET' | 'POST',
  path: string,
  options: { user?: string; body?: unknown; rawBody?: string } = {},
): Promise<JsonReply> {
  const headers: Record<string, string> = {};
  if (options.user !== undefined) headers.authorization = `Bearer ${options.user}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const reply = await request(baseUrl + path, { method, headers, body });
  const text = await reply.body.text();
  return { status: reply.statusCode, headers: reply.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** One thing read from a stream, and when it arrived (ms after the response headers). */
export type StreamItem =
  | { readonly kind: 'event'; readonly at: number; readonly id: string | undefined; readonly type: string | undefined; readonly data: string }
  | { readonly kind: 'comment'; readonly at: number; readonly text: string };

/** Everything a stream connection showed, to the end. */
export interface StreamCapture {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly items: StreamItem[];
  /** `eof`: clean end; `error`: reset or cut mid-body; `aborted`: we stopped reading at `abortAfterMs`. */
  readonly ending: 'eof' | 'error' | 'aborted';
  readonly durationMs: number;
  /** Parsed JSON of the events (not comments). */
  readonly events: { id: string | undefined; type: string | undefined; at: number; data: any }[];
  readonly raw: string;
}

/** Opens `url` and reads it to the end (or for `abortAfterMs`), parsing SSE with timing. */
export async function captureStream(url: string, options: { headers?: Record<string, string>; abortAfterMs?: number } = {}): Promise<StreamCapture> {
  const controller = new AbortController();
  const reply = await request(url, { headers: options.headers ?? {}, signal: controller.signal });
  const startedAt = performance.now();
  const timer = options.abortAfterMs === undefined ? undefined : setTimeout(() => controller.abort(), options.abortAfterMs);
  const items: StreamItem[] = [];
  let raw = '';
  const at = () => Math.round(performance.now() - startedAt);
  const parser = createParser({
    onEvent: (event) => items.push({ kind: 'event', at: at(), id: event.id, type: event.event, data: event.data }),
    onComment: (text) => items.push({ kind: 'comment', at: at(), text: text.trim() }),
  });
  let ending: StreamCapture['ending'] = 'eof';
  try {
    for await (const chunk of reply.body) {
      const text = (chunk as Buffer).toString('utf8');
      raw += text;
      parser.feed(text);
    }
  } catch {
    ending = controller.signal.aborted ? 'aborted' : 'error';
  } finally {
    clearTimeout(timer);
  }
  const events = items.flatMap((item) => (item.kind === 'event' ? [{ id: item.id, type: item.type, at: item.at, data: parseJson(item.data) }] : []));
  return { status: reply.statusCode, headers: reply.headers, items, ending, durationMs: at(), events, raw };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
