import type { StreamEndKind } from '../engine/connection.js';

/** What `tail` reports, item by item; reporters turn each into a line. Times are ms since start. */
export type TailItem =
  | { readonly kind: 'generation'; readonly id: string; readonly created: boolean; readonly t: number }
  | { readonly kind: 'token'; readonly status: number; readonly latencyMs: number; readonly token: string | null; readonly detail: string | null; readonly meaning: string | null; readonly t: number }
  | { readonly kind: 'connect'; readonly attempt: number; readonly url: string; readonly lastEventId: string | null; readonly t: number }
  | { readonly kind: 'open'; readonly status: number; readonly headersMs: number; readonly contentType: string | null; readonly traceId: string | null; readonly t: number }
  | { readonly kind: 'event'; readonly id: string | null; readonly event: string | null; readonly data: string; readonly t: number; readonly gapMs: number; readonly heartbeat: boolean }
  | { readonly kind: 'comment'; readonly text: string; readonly t: number; readonly gapMs: number }
  | { readonly kind: 'diagnostic'; readonly level: 'warn' | 'info'; readonly code: string; readonly message: string; readonly t: number }
  | { readonly kind: 'end'; readonly how: StreamEndKind; readonly description: string; readonly events: number; readonly durationMs: number; readonly t: number }
  | { readonly kind: 'reconnect'; readonly retry: number; readonly maxRetries: number; readonly delayMs: number; readonly reason: string; readonly t: number }
  | { readonly kind: 'stop'; readonly reason: string; readonly gaveUp: boolean; readonly t: number }
  | ({ readonly kind: 'summary' } & TailSummary);

/** The closing numbers of a tail. */
export interface TailSummary {
  readonly generationId: string | null;
  readonly url: string;
  readonly durationMs: number;
  readonly events: number;
  readonly heartbeats: number;
  readonly longestGapMs: number;
  /** The first connection: from the request to its headers, and to its first event (ms). */
  readonly headersMs: number | null;
  readonly firstEventMs: number | null;
  /** The longest an event was held back on its way, by its own timestamp (null: no timestamps). */
  readonly heldBackMs: number | null;
  /** The idle timeout the stream was cut by, when two connections were cut after the same silence. */
  readonly idleTimeoutMs: number | null;
  /** Events were held back past the limit: a buffering proxy (or compression) in the path. */
  readonly buffered: boolean;
  readonly reconnects: number;
  readonly tokenRequests: number;
  readonly duplicates: number;
  readonly missing: number;
  readonly finalStatus: string | null;
  readonly finalStage: string | null;
  readonly ended: StreamEndKind | null;
  readonly endedHow: string;
  readonly stopReason: string;
  readonly ok: boolean;
  /** Stopped by Ctrl-C: the summary covers what ran. */
  readonly interrupted: boolean;
}
