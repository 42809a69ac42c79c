import { longerThanHeartbeat, sameSilence, silenceBeforeCut } from './silence.js';
import type { StreamResult } from './connection.js';
import { isConnectedEvent, isHeartbeatEvent, parseEventData } from './contractEvents.js';
import { BURST_GAP_MS, heldBackEvents, heldBackLimitMs, timedEvent, type TimedEvent } from './heldBack.js';
import type { SseEvent } from './sseDecoder.js';

/** Something worth a warning while a stream runs. */
export type Observation =
  | { readonly kind: 'silence'; readonly gapMs: number; readonly limitMs: number; readonly t: number }
  | { readonly kind: 'progress-backwards'; readonly from: number; readonly to: number; readonly id: string | undefined; readonly t: number }
  | { readonly kind: 'duplicate-id'; readonly id: string; readonly t: number }
  /** Events reached us this much later than they were made (their own timestamps): buffering in the path. */
  | { readonly kind: 'held-back'; readonly delayMs: number; readonly burst: number; readonly headersMs: number; readonly limitMs: number; readonly t: number }
  /** Two connections cut after the same silence: an idle timeout somewhere in the path. */
  | { readonly kind: 'idle-timeout'; readonly silencesMs: readonly number[]; readonly t: number };

/** An observation in one line: what was seen, and what to change. */
export function describeObservation(observation: Observation): string {
  switch (observation.kind) {
    case 'silence':
      return `silence of ${(observation.gapMs / 1000).toFixed(1)} s, longer than the heartbeat interval (${observation.limitMs / 1000} s)`;
    case 'progress-backwards':
      return `progress went backwards: ${observation.from} -> ${observation.to}${observation.id ? ` at id ${observation.id}` : ''}`;
    case 'duplicate-id':
      return `event id ${observation.id} seen twice (the resume replayed it: Last-Event-ID ignored?)`;
    case 'held-back':
      return `events reached us up to ${(observation.delayMs / 1000).toFixed(1)} s after they were made${observation.burst > 1 ? `, ${observation.burst} in one burst` : ''}${observation.headersMs > observation.limitMs ? `, the headers held back with them (${(observation.headersMs / 1000).toFixed(1)} s)` : ''}: something in the path buffers the stream (proxy_buffering off, no compression on the stream route)`;
    case 'idle-timeout': {
      const timeoutMs = Math.min(...observation.silencesMs);
      return `cut after ${observation.silencesMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(' and again after ')} of silence: an idle timeout of about ${(timeoutMs / 1000).toFixed(1)} s somewhere in the path; send a heartbeat at least every ${(timeoutMs / 2000).toFixed(1)} s or raise the proxy's idle timeout (nginx proxy_read_timeout)`;
    }
  }
}

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
  /** The first connection's time from the request to its headers, and to its first event (ms). */
  readonly headersMs: number | undefined;
  readonly firstEventMs: number | undefined;
  /** The longest any event was held back on its way (ms), when the events carry timestamps. */
  readonly heldBackMs: number | undefined;
  /** The idle timeout the connections were cut by, when two were cut after the same silence. */
  readonly idleTimeoutMs: number | undefined;
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
  /** When this connection was requested; undefined for a caller that only reports openings (judged from those). */
  private requestedAt: number | undefined;
  private openedAt: number | undefined;
  private headersMs: number | undefined;
  private firstEventMs: number | undefined;
  private heldBackMs: number | undefined;
  private idleTimeoutMs: number | undefined;
  /** This connection's events with timestamps, and its signs of life: what buffering and idle cuts are judged on. */
  private timed: TimedEvent[] = [];
  private signs: number[] = [];
  private readonly cutSilences: number[] = [];

  constructor(
    private readonly heartbeatLimitMs: number,
    private readonly onObservation: (observation: Observation) => void = () => {},
  ) {}

  /** A connection is requested: buffering is judged from here (a proxy may hold the headers back too). */
  connecting(t: number): void {
    this.requestedAt = t;
    this.openedAt = undefined;
    this.timed = [];
    this.signs = [];
  }

  /** A connection opened: silence is measured from here, not across the reconnect pause. */
  connectionOpened(t: number): void {
    this.lastSignAt = t;
    this.openedAt = t;
    this.requestedAt ??= t;
    this.headersMs ??= t - this.requestedAt;
  }

  /** A connection ended: how late its events came, and whether it was cut after the same silence as the one before. */
  connectionEnded(result: StreamResult): void {
    const { worst } = heldBackEvents(this.timed, this.requestedAt ?? result.startedAt, BURST_GAP_MS);
    if (worst !== undefined) {
      const limitMs = heldBackLimitMs(this.heartbeatLimitMs);
      if (worst.extraDelayMs > limitMs && (this.heldBackMs ?? 0) <= limitMs) {
        this.onObservation({ kind: 'held-back', delayMs: worst.extraDelayMs, burst: worst.burstSize, headersMs: result.open?.headersMs ?? 0, limitMs, t: result.endedAt });
      }
      this.heldBackMs = Math.max(this.heldBackMs ?? 0, worst.extraDelayMs);
    }
    const silence = silenceBeforeCut(this.openedAt, this.signs, result.end, result.endedAt, result.terminalEvent !== undefined);
    if (silence === undefined) return;
    const previous = this.cutSilences.at(-1);
    this.cutSilences.push(silence);
    if (previous !== undefined && this.idleTimeoutMs === undefined && sameSilence(previous, silence)) {
      this.idleTimeoutMs = Math.min(previous, silence);
      this.onObservation({ kind: 'idle-timeout', silencesMs: [previous, silence], t: result.endedAt });
    }
  }

  /** Records an event and returns the gap since the previous sign of life (ms). */
  event(event: SseEvent): number {
    const gapMs = this.sign(event.t);
    this.firstEventMs ??= event.t - (this.requestedAt ?? event.t);
    if (isHeartbeatEvent(event)) {
      this.heartbeats++;
      return gapMs;
    }
    this.events++;
    if (event.id !== undefined && event.id !== '') this.trackId(event.id, event.t);
    const data = parseEventData(event);
    const timed = timedEvent(event, data);
    if (timed !== undefined) this.timed.push(timed);
    if (data) {
      if (typeof data.progress === 'number' && !isConnectedEvent(data)) {
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
      headersMs: this.headersMs,
      firstEventMs: this.firstEventMs,
      heldBackMs: this.heldBackMs,
      idleTimeoutMs: this.idleTimeoutMs,
    };
  }

  private sign(t: number): number {
    this.signs.push(t);
    const gapMs = this.lastSignAt === undefined ? 0 : t - this.lastSignAt;
    this.lastSignAt = t;
    if (gapMs > this.longestGapMs) this.longestGapMs = gapMs;
    if (this.heartbeatLimitMs > 0 && longerThanHeartbeat(gapMs, this.heartbeatLimitMs)) {
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
