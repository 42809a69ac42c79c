const LF = 0x0a;
const CR = 0x0d;
const FIELD_PREFIX_BYTES = 5;

/**
 * Finds where SSE events end in a byte stream, so the proxy can cut right after the Nth one.
 * An event is dispatched by a blank line after at least one `data` field (WHATWG); a blank line
 * after comments alone (`: heartbeat`) dispatches nothing and is not counted.
 */
export class EventBoundaries {
  private lineLength = 0;
  private linePrefix = '';
  private blockHasData = false;
  private afterCr = false;

  /** Offsets just past each event's terminating blank line within `chunk`. */
  scan(chunk: Buffer): number[] {
    const ends: number[] = [];
    for (let index = 0; index < chunk.length; index++) {
      const byte = chunk[index]!;
      if (byte === LF && this.afterCr) {
        // The LF of a CRLF: the CR already ended the line.
        this.afterCr = false;
        continue;
      }
      this.afterCr = byte === CR;
      if (byte === LF || byte === CR) {
        if (this.endLine()) ends.push(index + 1);
        continue;
      }
      if (this.lineLength < FIELD_PREFIX_BYTES) this.linePrefix += String.fromCharCode(byte);
      this.lineLength++;
    }
    return ends;
  }

  /** Ends the current line; true when it was the blank line that dispatches an event. */
  private endLine(): boolean {
    const blank = this.lineLength === 0;
    if (!blank && (this.linePrefix === 'data:' || (this.lineLength === 4 && this.linePrefix === 'data'))) this.blockHasData = true;
    this.lineLength = 0;
    this.linePrefix = '';
    if (!blank || !this.blockHasData) return false;
    this.blockHasData = false;
    return true;
  }
}
