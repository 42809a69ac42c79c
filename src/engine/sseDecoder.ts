import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage, type EventSourceParser, type ParseError } from 'eventsource-parser';

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

/** A notice in words, for a person reading the stream. */
export function describeNotice(notice: Exclude<SseNotice, { kind: 'comment' }>): string {
  switch (notice.kind) {
    case 'retry':
      return `server advises reconnecting after ${notice.ms} ms (retry:)`;
    case 'unknown-field':
      return `unknown field "${notice.field}" ignored (the spec ignores it too; a typo of data/event/id/retry?)`;
    case 'invalid-retry':
      return `invalid retry: value "${notice.value}" ignored`;
    case 'unterminated-event':
      return `the stream ended inside an event (no blank line after it): discarded, as the spec says (data: ${JSON.stringify(notice.data.slice(0, 60))})`;
  }
}

export interface SseDecoderCallbacks {
  onEvent(event: SseEvent): void;
  onNotice?(notice: SseNotice): void;
  /** A line grew past the cap without a newline: the stream is broken, stop reading. */
  onLineTooLong(bytes: number): void;
}

/**
 * Bytes in, events out: streaming UTF-8 decoding (`node:string_decoder`: characters split across
 * chunks kept whole, bad bytes as U+FFFD, one BOM stripped here) in front of one eventsource-parser,
 * with the last event ID tracked here because the parser reports only each event's own `id:` field.
 */
export class SseDecoder {
  private readonly parser: EventSourceParser;
  private readonly text = new StringDecoder('utf8');
  private atStart = true;
  /** Whether the text so far ends with a CR, which the parser holds in case an LF follows. */
  private endsWithCr = false;
  private now = 0;
  private lastEventId: string;
  private atEnd = false;
  private broken = false;

  constructor(
    private readonly callbacks: SseDecoderCallbacks,
    private readonly maxLineBytes: number,
    initialLastEventId = '',
  ) {
    this.lastEventId = initialLastEventId;
    this.parser = createParser({
      maxBufferSize: maxLineBytes,
      onEvent: (message) => this.dispatch(message),
      onComment: (text) => this.callbacks.onNotice?.({ kind: 'comment', text, t: this.now }),
      onRetry: (ms) => this.callbacks.onNotice?.({ kind: 'retry', ms, t: this.now }),
      onError: (error) => this.parseError(error),
    });
  }

  /** Feeds one chunk that arrived at time `t`. */
  push(chunk: Buffer, t: number): void {
    if (this.broken) return;
    this.now = t;
    this.feed(this.text.write(chunk));
  }

  /** The stream ended: flush the decoder and report (not dispatch) an unterminated last event. */
  end(t: number): void {
    if (this.broken) return;
    this.now = t;
    // A character cut off by the end of the stream decodes as U+FFFD, as a TextDecoder would.
    this.feed(this.text.end());
    // The parser holds a final CR in case an LF follows; at EOF that CR is a line ending.
    if (this.endsWithCr) this.feed('\n');
    // Two line feeds complete and dispatch whatever is pending; `atEnd` turns that into a notice.
    this.atEnd = true;
    this.feed('\n\n');
  }

  private feed(decoded: string): void {
    let text = decoded;
    if (text === '') return;
    if (this.atStart) {
      this.atStart = false;
      if (text.charCodeAt(0) === BOM) text = text.slice(1);
      if (text === '') return;
    }
    this.endsWithCr = text.charCodeAt(text.length - 1) === CR;
    this.parser.feed(text);
  }

  private dispatch(message: EventSourceMessage): void {
    // At EOF the spec discards an event with no blank line after it; we report it instead.
    if (this.atEnd) {
      this.callbacks.onNotice?.({ kind: 'unterminated-event', data: message.data, t: this.now });
      return;
    }
    if (message.id !== undefined) this.lastEventId = message.id;
    this.callbacks.onEvent({ id: message.id, event: message.event, data: message.data, lastEventId: this.lastEventId, t: this.now });
  }

  private parseError(error: ParseError): void {
    if (error.type === 'max-buffer-size-exceeded') {
      this.broken = true;
      this.callbacks.onLineTooLong(this.maxLineBytes);
    } else if (error.type === 'unknown-field') {
      this.callbacks.onNotice?.({ kind: 'unknown-field', field: error.field ?? '', t: this.now });
    } else {
      this.callbacks.onNotice?.({ kind: 'invalid-retry', value: error.value ?? '', t: this.now });
    }
  }
}

const BOM = 0xfeff;
const CR = 0x0d;
