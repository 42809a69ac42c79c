import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendValidationError, type ValidationIssue } from './jsonHttp.js';
import { lastEventId } from './lastEventId.js';
import type { ServerSettings } from './settings.js';
import type { SseStream, StreamHub } from './streamHub.js';

/** What the generic stream needs from the server. */
export interface GenericStreamContext {
  readonly settings: ServerSettings;
  readonly hub: StreamHub;
}

const DEFAULT_CHUNKS = 10;
const MAX_CHUNKS = 10_000;
const MAX_INTERVAL_MS = 600_000;
/** The `drop-mid-stream` fault cuts a fresh connection right after this many chunks. */
const CHUNKS_BEFORE_DROP = 3;

/**
 * `GET /generic/stream`: the second seed's streaming endpoint, without auth. Chunks carry ids
 * (chunk index + 1) so `Last-Event-ID` resumes after the last one seen; silences are filled by
 * typed `heartbeat` events; the end is `complete` with a `reason`.
 */
export function serveGenericStream(context: GenericStreamContext, req: IncomingMessage, res: ServerResponse, url: URL): void {
  const { settings, hub } = context;
  const issues: ValidationIssue[] = [];
  const chunks = integerParam(url, 'chunks', DEFAULT_CHUNKS, MAX_CHUNKS, issues);
  const intervalMs = integerParam(url, 'intervalMs', Math.round(settings.timings.generationMs / (chunks + 2)), MAX_INTERVAL_MS, issues);
  if (issues.length > 0) {
    sendValidationError(res, issues);
    return;
  }

  let next = settings.has('no-resume') ? 0 : Math.min(lastEventId(req, url), chunks);
  // Only a fresh connection is cut, so a client that resumes can still reach the end.
  const cutsMidStream = settings.has('drop-mid-stream') && req.headers['last-event-id'] === undefined;
  let written = 0;
  let timer: NodeJS.Timeout | undefined;
  const stream: SseStream = hub.open(res, {
    heartbeat: (open) => {
      const uptime = (performance.now() - open.openedAt) / 1000;
      const remaining = Math.max(0, settings.timings.streamMaxMs / 1000 - uptime);
      return `event: heartbeat\ndata: ${withTrace(open, { timestamp: Date.now() / 1000, uptime_seconds: round(uptime), remaining_seconds: round(remaining) })}\n\n`;
    },
    atCap: (open) => {
      const duration = (performance.now() - open.openedAt) / 1000;
      open.write(`event: complete\ndata: ${withTrace(open, { reason: 'duration_cap', duration: round(duration) })}\n\n`);
    },
    onClose: () => clearTimeout(timer),
  });

  const step = () => {
    if (next >= chunks) {
      stream.write(`event: complete\ndata: ${withTrace(stream, { reason: 'done' })}\n\n`);
      if (!settings.has('linger')) stream.end();
      return;
    }
    const index = next++;
    stream.write(`id: ${index + 1}\nevent: content_chunk\ndata: ${withTrace(stream, { index, text: chunkText(index, chunks) })}\n\n`);
    if (++written === CHUNKS_BEFORE_DROP && cutsMidStream) {
      stream.cut();
      return;
    }
    timer = setTimeout(step, intervalMs);
  };
  timer = setTimeout(step, intervalMs);
}

function chunkText(index: number, chunks: number): string {
  return `chunk ${index + 1} of ${chunks} `;
}

function withTrace(stream: SseStream, data: Record<string, unknown>): string {
  return JSON.stringify(stream.traceId === undefined ? data : { ...data, trace_id: stream.traceId });
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

function integerParam(url: URL, name: string, fallback: number, max: number, issues: ValidationIssue[]): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (/^\d+$/.test(raw) && value <= max) return value;
  issues.push({
    type: 'int_parsing',
    loc: ['query', name],
    msg: `Input should be an integer between 0 and ${max}`,
    input: raw,
  });
  return fallback;
}
