import type { SseEvent } from './sseDecoder.js';

/** Events compared at the start of each connection: enough to tell a replay from a resume. */
const START_EVENTS = 8;
/** Characters of an event that its fingerprint covers. */
const PRINTED_CHARS = 256;

/**
 * Whether a connection brought anything new. A server that answers every reconnect with the
 * same stream from its start (one that ignores Last-Event-ID, or an LLM endpoint that generates
 * again) delivers events each time and no progress: those must not reset a client's retry count,
 * or the client reconnects forever. Only the first few events of a connection are looked at.
 */
export class StreamProgress {
  /** Fingerprints of the first events of the first connection that had any. */
  private readonly startPrints: number[] = [];
  private mostEvents = 0;
  private onConnection = 0;
  private mode: 'record' | 'compare' | 'new' = 'record';

  connectionStarted(): void {
    this.onConnection = 0;
    this.mode = this.startPrints.length === 0 ? 'record' : 'compare';
  }

  event(event: SseEvent): void {
    const index = this.onConnection++;
    if (index >= START_EVENTS || this.mode === 'new') return;
    const print = fingerprint(event);
    if (this.mode === 'record') this.startPrints.push(print);
    else if (index < this.startPrints.length && this.startPrints[index] !== print) this.mode = 'new';
  }

  /** The events of the connection that just ended that were not a replay of what came before. */
  connectionEnded(events: number): number {
    const fresh = this.mode === 'compare' ? Math.max(0, events - this.mostEvents) : events;
    this.mostEvents = Math.max(this.mostEvents, events);
    return fresh;
  }
}

/** FNV-1a over the event's id, type and the start of its data. */
function fingerprint(event: SseEvent): number {
  let hash = 0x811c9dc5;
  const text = `${event.id ?? ''}\n${event.event ?? ''}\n${event.data.slice(0, PRINTED_CHARS)}`;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
