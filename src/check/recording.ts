import type { Dispatcher } from 'undici';
import type { Clock } from '../engine/clock.js';
import { openStream, type StreamResult } from '../engine/connection.js';
import type { SseEvent } from '../engine/sseDecoder.js';
import { redactStreamUrl } from '../engine/secrets.js';

/** One connection as evidence: every event and comment with its arrival time, and how it ended. */
export interface RecordedStream {
  /** The URL with its token shortened: safe to report. */
  readonly url: string;
  readonly result: StreamResult;
  readonly events: readonly SseEvent[];
  /** Arrival times of comment lines (`: heartbeat`). */
  readonly comments: readonly number[];
  /** When the first terminal event arrived. */
  readonly terminalAt: number | undefined;
  /** True when the recording stopped the connection itself (`stopWhen` or `stopOnOpen`). */
  readonly stoppedEarly: boolean;
}

/** Where and how long to listen. */
export interface RecordRequest {
  readonly url: string;
  readonly lastEventId?: string;
  /** Stop as soon as this returns true for an event (the connection is closed by us). */
  readonly stopWhen?: (event: SseEvent) => boolean;
  /** Stop right after 200 headers: for probes that only need the status. */
  readonly stopOnOpen?: boolean;
  readonly silenceTimeoutMs: number;
  readonly maxDurationMs: number;
  readonly closeAfterTerminalMs?: number;
}

/** What every recording shares: one dispatcher, one clock, the run's signal, the terminal test. */
export interface RecordingEnv {
  readonly dispatcher: Dispatcher;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly headers: Readonly<Record<string, string>>;
  readonly maxLineBytes: number;
  readonly headersTimeoutMs: number;
  readonly isTerminal: (event: SseEvent) => boolean;
  readonly followRedirects: boolean;
}

/** Opens one stream and keeps everything it said, with arrival times, until it ends or `stopWhen`. */
export async function recordStream(env: RecordingEnv, req: RecordRequest): Promise<RecordedStream> {
  const events: SseEvent[] = [];
  const comments: number[] = [];
  const stopper = new AbortController();
  let stoppedEarly = false;
  let terminalAt: number | undefined;
  const stopNow = () => {
    stoppedEarly = true;
    stopper.abort();
  };
  const result = await openStream(
    {
      url: req.url,
      headers: env.headers,
      lastEventId: req.lastEventId,
      silenceTimeoutMs: req.silenceTimeoutMs,
      maxDurationMs: req.maxDurationMs,
      closeAfterTerminalMs: req.closeAfterTerminalMs,
      maxLineBytes: env.maxLineBytes,
      headersTimeoutMs: env.headersTimeoutMs,
      dispatcher: env.dispatcher,
      clock: env.clock,
      signal: AbortSignal.any([env.signal, stopper.signal]),
      isTerminal: env.isTerminal,
      followRedirects: env.followRedirects,
    },
    {
      onOpen: (open) => {
        // Error bodies are still read: their `detail` is evidence.
        if (req.stopOnOpen && open.status === 200) stopNow();
      },
      onEvent: (event) => {
        events.push(event);
        if (terminalAt === undefined && env.isTerminal(event)) terminalAt = event.t;
        if (req.stopWhen?.(event)) stopNow();
      },
      onNotice: (notice) => {
        if (notice.kind === 'comment') comments.push(notice.t);
      },
    },
  );
  return { url: redactStreamUrl(req.url), result, events, comments, terminalAt, stoppedEarly: stoppedEarly && !env.signal.aborted };
}
