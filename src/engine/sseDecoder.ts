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

export interface SseDecoderCallbacks {
  onEvent(event: SseEvent): void;
  onNotice?(notice: SseNotice): void;
  /** A line grew past the cap without a newline: the stream is broken, stop reading. */
  onLineTooLong(bytes: number): void;
}

/**
 * Bytes in, events out: streaming UTF-8 decoding (one BOM stripped, characters split across
 * chunks kept whole) in front of eventsource-parser, with the last event ID tracked here because
 * the parser reports only each event's own `id:` field.
 *
 * Built for many streams at once (a load run keeps one decoder per open stream):
 * - The UTF-8 is decoded here rather than by a `TextDecoder`: each of those holds an ICU
 *   converter, about 1 KiB of native memory.
 * - Between events a decoder holds no parser (see `ParserPool`): a parser costs about 1 KiB, and
 *   servers write whole events, so at any moment nearly every stream sits between two events.
 */
export class SseDecoder {
  /** The parser this decoder holds while an event is only partly read; undefined between events. */
  private parser: PooledParser | undefined;
  /** The first bytes of a character that the next chunk completes. */
  private splitCharacter: Buffer | undefined;
  /** The last characters fed, enough to tell whether the stream sits between two events. */
  private lastChars = '';
  private atStart = true;
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
  }

  /** Feeds one chunk that arrived at time `t`. */
  push(chunk: Buffer, t: number): void {
    if (this.broken) return;
    this.now = t;
    const bytes = this.splitCharacter === undefined ? chunk : Buffer.concat([this.splitCharacter, chunk]);
    const complete = bytes.length - incompleteTail(bytes);
    this.splitCharacter = complete < bytes.length ? Buffer.from(bytes.subarray(complete)) : undefined;
    this.feed(bytes.toString('utf8', 0, complete));
  }

  /** The stream ended: flush the decoder and report (not dispatch) an unterminated last event. */
  end(t: number): void {
    if (this.broken) return;
    this.now = t;
    // A character cut off by the end of the stream decodes as U+FFFD, as a TextDecoder would.
    if (this.splitCharacter !== undefined) this.feed(this.splitCharacter.toString('utf8'));
    // The parser holds a final CR in case an LF follows; at EOF that CR is a line ending.
    if (this.lastChars.endsWith('\r')) this.feed('\n');
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
    const parser = this.parser ?? parsers.take(this.maxLineBytes);
    parser.decoder = this;
    parser.feed(text);
    this.lastChars = (text.length >= LAST_CHARS ? text : this.lastChars + text).slice(-LAST_CHARS);
    if (this.broken || !betweenEvents(this.lastChars)) {
      this.parser = parser;
    } else {
      this.parser = undefined;
      parsers.giveBack(parser);
    }
  }

  /** From the parser (see `PooledParser`): one event, or at the end of the stream the unterminated last one. */
  dispatch(message: EventSourceMessage): void {
    // At EOF the spec discards an event with no blank line after it; we report it instead.
    if (this.atEnd) {
      this.callbacks.onNotice?.({ kind: 'unterminated-event', data: message.data, t: this.now });
      return;
    }
    if (message.id !== undefined) this.lastEventId = message.id;
    this.callbacks.onEvent({ id: message.id, event: message.event, data: message.data, lastEventId: this.lastEventId, t: this.now });
  }

  /** From the parser, as is `dispatch`. */
  comment(text: string): void {
    this.callbacks.onNotice?.({ kind: 'comment', text, t: this.now });
  }

  retry(ms: number): void {
    this.callbacks.onNotice?.({ kind: 'retry', ms, t: this.now });
  }

  parseError(error: ParseError): void {
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

/** Enough trailing characters to see a blank line's end: `\r\n\r\n` at the most. */
const LAST_CHARS = 4;

/**
 * Whether a stream whose text so far ends with `lastChars` sits between two events: its last
 * line was blank and ended for sure (a final CR may still be the first half of a CRLF). The
 * parser has then dispatched and forgotten everything, and holds no state for this stream.
 */
function betweenEvents(lastChars: string): boolean {
  if (!lastChars.endsWith('\n')) return false;
  const beforeTerminator = lastChars.slice(0, lastChars.endsWith('\r\n') ? -2 : -1);
  // Nothing before it: the stream so far is this one line ending, which leaves nothing pending either.
  return beforeTerminator === '' || beforeTerminator.endsWith('\n') || beforeTerminator.endsWith('\r');
}

/** An eventsource-parser whose callbacks go to whichever decoder feeds it now. */
class PooledParser {
  decoder: SseDecoder | undefined;
  private readonly parser: EventSourceParser;

  constructor(readonly maxBufferSize: number) {
    this.parser = createParser({
      maxBufferSize,
      onEvent: (message) => this.decoder?.dispatch(message),
      onComment: (text) => this.decoder?.comment(text),
      onRetry: (ms) => this.decoder?.retry(ms),
      onError: (error) => this.decoder?.parseError(error),
    });
    // Past its first chunk: a parser strips a leading BOM from the first chunk it sees, and a
    // pooled one may see its first chunk mid-stream. (The decoder strips the real BOM itself.)
    this.parser.feed('\n');
  }

  feed(text: string): void {
    this.parser.feed(text);
  }
}

/**
 * Parsers for decoders between events, one idle parser per line limit. A decoder takes one for
 * each chunk and gives it back when the chunk ends between two events (the parser is then
 * blank); mid-event, the decoder keeps it until the event is complete.
 */
class ParserPool {
  private readonly idle = new Map<number, PooledParser>();

  take(maxBufferSize: number): PooledParser {
    const parser = this.idle.get(maxBufferSize);
    if (parser === undefined) return new PooledParser(maxBufferSize);
    this.idle.delete(maxBufferSize);
    return parser;
  }

  giveBack(parser: PooledParser): void {
    parser.decoder = undefined;
    this.idle.set(parser.maxBufferSize, parser);
  }
}

const parsers = new ParserPool();

const BOM = 0xfeff;

/**
 * How many bytes at the end of `bytes` start a UTF-8 character that is not complete yet (0 to
 * 3): decoding stops before them and they wait for the next chunk. Bytes that cannot start a
 * valid sequence are left to the decoder, which replaces them with U+FFFD as a TextDecoder does.
 */
function incompleteTail(bytes: Uint8Array): number {
  const length = bytes.length;
  for (let back = 1; back <= 3 && back <= length; back++) {
    const byte = bytes[length - back] as number;
    // A continuation byte (10xxxxxx): the character starts further back.
    if ((byte & 0xc0) === 0x80) continue;
    const needed = byte >= 0xc2 && byte <= 0xdf ? 2 : byte >= 0xe0 && byte <= 0xef ? 3 : byte >= 0xf0 && byte <= 0xf4 ? 4 : 1;
    return needed > back ? back : 0;
  }
  return 0;
}
