import { parseEventData, type ContractEventData } from './contractEvents.js';
import type { SseEvent } from './sseDecoder.js';

// Buffering seen from the client: events carry the time they were made (`timestamp`, unix
// seconds), so how late each one arrived tells whether something in the path held it back.

/** An event as the buffering rule sees it: when it arrived, and when the server says it made it. */
export interface TimedEvent {
  readonly arrivedAt: number;
  /** The event's own `timestamp` in ms (unix seconds × 1000), on the server's clock. */
  readonly producedAt: number;
}

/** The event delivered latest relative to when it was made. */
export interface HeldBack {
  readonly index: number;
  /** How much later than the best-delivered event it arrived, relative to production (ms). */
  readonly extraDelayMs: number;
  /** Events that arrived together with it (within `burstGapMs`). */
  readonly burstSize: number;
}

export interface HoldBackVerdict {
  /** Events made after the request: the ones buffering can delay. */
  readonly live: number;
  readonly worst: HeldBack | undefined;
}

/**
 * How long events were held back between the generator and us. The two clocks differ by an
 * unknown offset, so each event's lag (arrival minus production) is compared with the smallest
 * lag of the stream, the event delivered at once. Events made before the request (the history a
 * server replays on connect) are left out: their lag is their age, not buffering. The request,
 * not the headers, is the line: a proxy that holds the headers back with the first events makes
 * the headers as late as the events, and every event would then read as history.
 */
export function heldBackEvents(events: readonly TimedEvent[], requestedAt: number, burstGapMs: number): HoldBackVerdict {
  if (events.length === 0) return { live: 0, worst: undefined };
  const lags = events.map((event) => event.arrivedAt - event.producedAt);
  const minLag = Math.min(...lags);
  let live = 0;
  let worst: HeldBack | undefined;
  events.forEach((event, index) => {
    // The production time on our clock, assuming the best-delivered event arrived at once.
    if (event.producedAt + minLag < requestedAt) return;
    live++;
    const extraDelayMs = lags[index]! - minLag;
    if (worst === undefined || extraDelayMs > worst.extraDelayMs) {
      const burstSize = events.filter((other) => Math.abs(other.arrivedAt - event.arrivedAt) <= burstGapMs).length;
      worst = { index, extraDelayMs, burstSize };
    }
  });
  return { live, worst };
}

/** An event with a numeric `timestamp` as the buffering judgement sees it; undefined without one. */
export function timedEvent(event: SseEvent, data: ContractEventData | undefined = parseEventData(event)): TimedEvent | undefined {
  const timestamp = data?.timestamp;
  return typeof timestamp === 'number' ? { arrivedAt: event.t, producedAt: timestamp * 1000 } : undefined;
}

/**
 * An event held back longer than this (or half the heartbeat interval, when shorter) was
 * buffered: the contract's "bursts of events whose own timestamps span seconds".
 */
export function heldBackLimitMs(heartbeatMs: number): number {
  return Math.min(MAX_HELD_BACK_MS, heartbeatMs / 2);
}

const MAX_HELD_BACK_MS = 1000;

/** Events that arrive this close together count as one burst. */
export const BURST_GAP_MS = 15;
