import { StringDecoder } from 'node:string_decoder';

/** Reads one line; false stops the reading. */
export type OnLine = (line: string) => boolean;

const CARRIAGE_RETURN = 13;

/**
 * Splits a stream's chunks into lines (`\n` or `\r\n`) in one synchronous loop per chunk:
 * readline's event and promise per line cost more than reading an access log line does. A line
 * that spans chunks is kept in pieces and joined once, so a HAR written on one line costs its
 * length, not its length squared. Multi-byte characters split between chunks are decoded whole.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending: string[] = [];

  /** Calls `onLine` for each line the chunk completes; false once `onLine` has stopped the reading. */
  push(chunk: Buffer, onLine: OnLine): boolean {
    const text = this.decoder.write(chunk);
    let start = 0;
    let end = text.indexOf('\n');
    if (end >= 0 && this.pending.length > 0) {
      this.pending.push(text.slice(0, end));
      if (!onLine(withoutCarriageReturn(this.takePending()))) return false;
      start = end + 1;
      end = text.indexOf('\n', start);
    }
    while (end >= 0) {
      const line = end > start && text.charCodeAt(end - 1) === CARRIAGE_RETURN ? text.slice(start, end - 1) : text.slice(start, end);
      if (!onLine(line)) return false;
      start = end + 1;
      end = text.indexOf('\n', start);
    }
    if (start < text.length) this.pending.push(start === 0 ? text : text.slice(start));
    return true;
  }

  /** The last line, when the input does not end with a newline. */
  end(onLine: OnLine): void {
    const rest = this.decoder.end();
    if (rest !== '') this.pending.push(rest);
    if (this.pending.length > 0) onLine(withoutCarriageReturn(this.takePending()));
  }

  private takePending(): string {
    const line = this.pending.join('');
    this.pending = [];
    return line;
  }
}

function withoutCarriageReturn(line: string): string {
  return line.charCodeAt(line.length - 1) === CARRIAGE_RETURN ? line.slice(0, -1) : line;
}
