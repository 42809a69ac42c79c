import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ServerSettings } from './settings.js';

/** What a route decides about one stream; the hub decides when. */
export interface StreamHooks {
  /** The frame that fills a silence of `heartbeatMs` (an SSE comment or a typed event). */
  readonly heartbeat: (stream: SseStream) => string;
  /** Writes the last event at the duration cap; the hub ends the stream right after. */
  readonly atCap: (stream: SseStream) => void;
  /** Runs once when the response closes for any reason: end, cut, client gone, server closing. */
  readonly onClose: () => void;
}

/**
 * A client that stops reading would otherwise make the server buffer its stream forever; past
 * this many unsent bytes the connection is dropped.
 */
const MAX_BACKLOG_BYTES = 1024 * 1024;

/** The comment the contract names for filling silences. */
export const HEARTBEAT_COMMENT = ': heartbeat\n\n';

/** One open `text/event-stream` response. Writes after it ended are ignored, never thrown. */
export class SseStream {
  /** `performance.now()` when the headers went out. */
  readonly openedAt = performance.now();
  lastWriteAt = this.openedAt;
  closed = false;
  /** Writes held back by the `buffered` fault until `flushDueAt`. */
  pending: string[] | undefined;
  flushDueAt = 0;

  constructor(
    private readonly res: ServerResponse,
    readonly hooks: StreamHooks,
    /** The `X-Trace-ID` sent, if any. */
    readonly traceId: string | undefined,
  ) {}

  write(frame: string): void {
    if (this.closed) return;
    this.lastWriteAt = performance.now();
    if (this.pending) {
      this.pending.push(frame);
      return;
    }
    this.res.write(frame);
    if (this.res.writableLength > MAX_BACKLOG_BYTES) this.cut();
  }

  /** Sends whatever the `buffered` fault held back. */
  flush(): void {
    if (!this.pending || this.pending.length === 0 || this.closed) return;
    this.res.write(this.pending.join(''));
    this.pending = [];
  }

  /** Ends the response cleanly: the chunked body's last chunk, so the client sees EOF, not a reset. */
  end(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.res.end();
  }

  /** Drops the connection abruptly, mid-body, as a crashed worker or a proxy timeout would. */
  cut(): void {
    if (this.closed) return;
    this.closed = true;
    const socket = this.res.socket;
    if (!socket) {
      this.res.destroy();
      return;
    }
    // Node corks the socket until the next tick of a response write; destroying it now would
    // discard the last event too, and the cut is meant to come right after it.
    setImmediate(() => socket.destroy());
  }
}

/**
 * Every open stream, and the one shared timer that serves them all: heartbeats for the idle
 * ones, the duration cap, and the `buffered` fault's flushes. Nothing runs per stream, so
 * ten thousand streams cost ten thousand small objects and no timers.
 */
export class StreamHub {
  private readonly streams = new Set<SseStream>();
  private readonly ticker: NodeJS.Timeout;
  private readonly heartbeatMs: number;
  private readonly tickMs: number;
  private readonly bufferFlushMs: number;

  constructor(private readonly settings: ServerSettings) {
    const { heartbeatMs, generationMs } = settings.timings;
    this.heartbeatMs = settings.has('no-heartbeat') ? 0 : heartbeatMs;
    // Like a buffering proxy: a few flushes per generation, so events arrive in visible bursts.
    this.bufferFlushMs = Math.max(250, generationMs / 3);
    // At most a quarter of the heartbeat interval: a heartbeat goes no earlier than 0.75 x heartbeatMs.
    this.tickMs = Math.max(5, Math.min(250, heartbeatMs > 0 ? heartbeatMs / 4 : 250));
    this.ticker = setInterval(() => this.tick(), this.tickMs);
  }

  get size(): number {
    return this.streams.size;
  }

  /** Sends the SSE headers at once and registers the stream with the shared timer. */
  open(res: ServerResponse, hooks: StreamHooks): SseStream {
    const traceId = this.settings.has('no-trace') ? undefined : randomBytes(8).toString('hex');
    res.writeHead(200, this.headers(traceId));
    res.flushHeaders();
    const stream = new SseStream(res, hooks, traceId);
    if (this.settings.has('buffered')) {
      stream.pending = [];
      stream.flushDueAt = stream.openedAt + this.bufferFlushMs;
    }
    this.streams.add(stream);
    res.on('close', () => {
      stream.closed = true;
      this.streams.delete(stream);
      hooks.onClose();
    });
    return stream;
  }

  /** A 200 event stream that ends before its first event: the seed's retry-storm trigger. */
  respondEmpty(res: ServerResponse): void {
    res.writeHead(200, this.headers(this.settings.has('no-trace') ? undefined : randomBytes(8).toString('hex')));
    // Headers first, so the body is chunked and empty, exactly like a streaming response that gave up.
    res.flushHeaders();
    res.end();
  }

  /** Drops every open stream and stops the timer. */
  close(): void {
    clearInterval(this.ticker);
    for (const stream of this.streams) stream.cut();
    this.streams.clear();
  }

  private headers(traceId: string | undefined): Record<string, string> {
    const { streamMaxMs, heartbeatMs } = this.settings.timings;
    const headers: Record<string, string> = {
      'Content-Type': this.settings.has('wrong-content-type') ? 'text/plain; charset=utf-8' : 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    };
    if (traceId !== undefined) headers['X-Trace-ID'] = traceId;
    if (streamMaxMs > 0) headers['X-Stream-Max-Seconds'] = String(streamMaxMs / 1000);
    // Advertised even under `no-heartbeat`: a server that promises heartbeats and sends none is the fault.
    if (heartbeatMs > 0) headers['X-Heartbeat-Interval'] = String(heartbeatMs / 1000);
    return headers;
  }

  private tick(): void {
    const now = performance.now();
    const { streamMaxMs } = this.settings.timings;
    for (const stream of this.streams) {
      if (streamMaxMs > 0 && now - stream.openedAt >= streamMaxMs) {
        stream.hooks.atCap(stream);
        stream.end();
        continue;
      }
      // Sent at the last tick before the interval runs out: no silence outlasts X-Heartbeat-Interval, as the header promises.
      if (this.heartbeatMs > 0 && now + this.tickMs - stream.lastWriteAt > this.heartbeatMs) {
        stream.write(stream.hooks.heartbeat(stream));
      }
      if (stream.pending && now >= stream.flushDueAt) {
        stream.flush();
        stream.flushDueAt = now + this.bufferFlushMs;
      }
    }
  }
}
