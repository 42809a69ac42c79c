import { createParser, type EventSourceParser } from 'eventsource-parser';

/** One dispatched SSE event, as the WHATWG parsing rules produce it. */
export interface SseEvent {
  /** The `id:` field of this event, if it had one. */
  readonly id: string | undefined;
  /** The `event:` type, or undefined for the default `message`. */
  readonly event: string | undefined;
  readonly data: string;
  /** The connection's last event ID after this event (spec: it persists across events). */
  readonly lastEventId: string;
  /** Arrival time on the connection's clock (ms). */
  readonly t: number;
}

/** Anything in a stream besides events that a diagnostic tool should see. */
export type SseNotice =
  | { kind: 'comment'; text: string; t: number }
  | { kind: 'retry'; ms: number; t: number }
  | { kind: 'unknown-field'; field: string; t: number }
  | { kind: 'invalid-retry'; value: string; t: number }
  | { kind: 'unterminated-event'; data: string; t: number };

export interface SseDecoderCallbacks {
  onEvent(event: SseEvent): void;
  onNotice?(notice: SseNotice): void;
  /** A line grew past the cap without a newline: the stream is broken, stop reading. */
  onLineTooLong(bytes: number): void;
}

/**
 * Bytes in, events out: a streaming UTF-8 decoder (one BOM stripped, characters split across
 * chunks kept whole) in front of eventsource-parser, with the last event ID tracked here because
 * the parser reports only each event's own `id:` field.
 */
export class SseDecoder {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly parser: EventSourceParser;
  private now = 0;
  private lastEventId: string;
  private atEnd = false;
  private broken = false;
  private endsWithCr = false;

  constructor(
    private readonly callbacks: SseDecoderCallbacks,
    maxLineBytes: number,
    initialLastEventId = '',
  ) {
    this.lastEventId = initialLastEventId;
    this.parser = createParser({
      maxBufferSize: maxLineBytes,
      onEvent: (message) => {
        // At EOF the spec discards an event with no blank line after it; we report it instead.
        if (this.atEnd) {
          this.callbacks.onNotice?.({ kind: 'unterminated-event', data: message.data, t: this.now });
          return;
        }
        if (message.id !== undefined) this.lastEventId = message.id;
        this.callbacks.onEvent({
          id: message.id,
          event: message.event,
          data: message.data,
          lastEventId: this.lastEventId,
          t: this.now,
        });
      },
      onComment: (text) => this.callbacks.onNotice?.({ kind: 'comment', text, t: this.now }),
      onRetry: (ms) => this.callbacks.onNotice?.({ kind: 'retry', ms, t: this.now }),
      onError: (error) => {
        if (error.type === 'max-buffer-size-exceeded') {
          this.broken = true;
          this.callbacks.onLineTooLong(maxLineBytes);
        } else if (error.type === 'unknown-field') {
          this.callbacks.onNotice?.({ kind: 'unknown-field', field: error.field ?? '', t: this.now });
        } else {
          this.callbacks.onNotice?.({ kind: 'invalid-retry', value: error.value ?? '', t: this.now });
        }
      },
    });
  }

  get currentLastEventId(): string {
    return this.lastEventId;
  }

  /** Feeds one chunk that arrived at time `t`. */
  push(chunk: Uint8Array, t: number): void {
    if (this.broken) return;
    this.now = t;
    const text = this.decoder.decode(chunk, { stream: true });
    if (text !== '') this.feed(text);
  }

  private feed(text: string): void {
    this.endsWithCr = text.charCodeAt(text.length - 1) === 13;
    this.parser.feed(text);
  }

  /** The stream ended: flush the decoder and report (not dispatch) an unterminated last event. */
  end(t: number): void {
    if (this.broken) return;
    this.now = t;
    const rest = this.decoder.decode();
    if (rest !== '') this.feed(rest);
    // The parser holds a final CR in case an LF follows; at EOF that CR is a line ending.
    if (this.endsWithCr) this.parser.feed('\n');
    // Two line feeds complete and dispatch whatever is pending; `atEnd` turns that into a notice.
    this.atEnd = true;
    this.parser.feed('\n\n');
  }
}
