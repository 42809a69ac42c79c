import { isHeartbeatEvent, parseEventData } from './contractEvents.js';
import type { SseEvent } from './sseDecoder.js';

/** Something worth a warning while a stream runs. */
export type Observation =
  | { readonly kind: 'silence'; readonly gapMs: number; readonly limitMs: number; readonly t: number }
  | { readonly kind: 'progress-backwards'; readonly from: number; readonly to: number; readonly id: string | undefined; readonly t: number }
  | { readonly kind: 'duplicate-id'; readonly id: string; readonly t: number };

/** What a session's stream looked like as a whole, across reconnects. */
export interface ObservedStats {
  readonly events: number;
  readonly heartbeats: number;
  readonly longestGapMs: number;
  readonly duplicates: number;
  /** Numeric ids between the first and the highest seen that never arrived. */
  readonly missing: number;
  readonly lastProgress: number | undefined;
  readonly lastStatus: string | undefined;
  readonly lastStage: string | undefined;
}

/**
 * Watches events and comments across the connections of one session: gaps, heartbeats,
 * progress going backwards and ids seen twice (a resume that replays). It never prints;
 * warnings go to `onObservation`.
 */
export class StreamObserver {
  private events = 0;
  private heartbeats = 0;
  private longestGapMs = 0;
  private lastSignAt: number | undefined;
  private lastProgress: number | undefined;
  private lastStatus: string | undefined;
  private lastStage: string | undefined;
  private duplicates = 0;
  private readonly seenIds = new Set<string>();
  private minNumericId = Number.POSITIVE_INFINITY;
  private maxNumericId = Number.NEGATIVE_INFINITY;
  private numericIds = 0;

  constructor(
    private readonly heartbeatLimitMs: number,
    private readonly onObservation: (observation: Observation) => void = () => {},
  ) {}

  /** A connection opened: silence is measured from here, not across the reconnect pause. */
  connectionOpened(t: number): void {
    this.lastSignAt = t;
  }

  /** Records an event and returns the gap since the previous sign of life (ms). */
  event(event: SseEvent): number {
    const gapMs = this.sign(event.t);
    if (isHeartbeatEvent(event)) {
      this.heartbeats++;
      return gapMs;
    }
    this.events++;
    if (event.id !== undefined && event.id !== '') this.trackId(event.id, event.t);
    const data = parseEventData(event);
    if (data) {
      if (typeof data.progress === 'number') {
        if (this.lastProgress !== undefined && data.progress < this.lastProgress) {
          this.onObservation({ kind: 'progress-backwards', from: this.lastProgress, to: data.progress, id: event.id, t: event.t });
        }
        this.lastProgress = data.progress;
      }
      if (typeof data.status === 'string') this.lastStatus = data.status;
      if (typeof data.stage === 'string') this.lastStage = data.stage;
    }
    return gapMs;
  }

  /** Records a comment line (`: heartbeat`) and returns the gap since the previous sign of life. */
  comment(t: number): number {
    this.heartbeats++;
    return this.sign(t);
  }

  get stats(): ObservedStats {
    const missing = this.numericIds === 0 ? 0 : this.maxNumericId - this.minNumericId + 1 - this.numericIds;
    return {
      events: this.events,
      heartbeats: this.heartbeats,
      longestGapMs: this.longestGapMs,
      duplicates: this.duplicates,
      missing,
      lastProgress: this.lastProgress,
      lastStatus: this.lastStatus,
      lastStage: this.lastStage,
    };
  }

  private sign(t: number): number {
    const gapMs = this.lastSignAt === undefined ? 0 : t - this.lastSignAt;
    this.lastSignAt = t;
    if (gapMs > this.longestGapMs) this.longestGapMs = gapMs;
    if (this.heartbeatLimitMs > 0 && gapMs > this.heartbeatLimitMs) {
      this.onObservation({ kind: 'silence', gapMs, limitMs: this.heartbeatLimitMs, t });
    }
    return gapMs;
  }

  private trackId(id: string, t: number): void {
    if (this.seenIds.has(id)) {
      this.duplicates++;
      this.onObservation({ kind: 'duplicate-id', id, t });
      return;
    }
    this.seenIds.add(id);
    const numeric = /^\d{1,15}$/.test(id) ? Number(id) : undefined;
    if (numeric === undefined) return;
    this.numericIds++;
    if (numeric < this.minNumericId) this.minNumericId = numeric;
    if (numeric > this.maxNumericId) this.maxNumericId = numeric;
  }
}
