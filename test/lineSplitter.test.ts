import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../src/analyze/lineSplitter.js';

/** Feeds `chunks` through a splitter and collects the lines, as `analyze` reads a stream. */
function split(chunks: readonly Buffer[], stopAfter = Infinity): string[] {
  const lines: string[] = [];
  const onLine = (line: string) => {
    lines.push(line);
    return lines.length < stopAfter;
  };
  const splitter = new LineSplitter();
  for (const chunk of chunks) if (!splitter.push(chunk, onLine)) return lines;
  splitter.end(onLine);
  return lines;
}

describe('the line splitter analyze reads logs with', () => {
  const text = 'GET /a 200\r\nPOST /b 429\n\nlast “quoted” line';

  it('gives the same lines whatever the chunks: one, byte by byte, CRLF and multi-byte characters split', () => {
    const bytes = Buffer.from(text);
    const expected = ['GET /a 200', 'POST /b 429', '', 'last “quoted” line'];
    expect(split([bytes])).toEqual(expected);
    expect(split([...bytes].map((byte) => Buffer.from([byte])))).toEqual(expected);
    const crlf = bytes.indexOf('\r\n');
    expect(split([bytes.subarray(0, crlf + 1), bytes.subarray(crlf + 1)])).toEqual(expected);
    const quote = bytes.indexOf('“');
    expect(split([bytes.subarray(0, quote + 1), bytes.subarray(quote + 1, quote + 2), bytes.subarray(quote + 2)])).toEqual(expected);
  });

  it('joins a line spread over many chunks once, and gives no empty line after a final newline', () => {
    const long = 'x'.repeat(10_000);
    const pieces = Array.from({ length: 100 }, (_, i) => Buffer.from(long.slice(i * 100, (i + 1) * 100)));
    expect(split([...pieces, Buffer.from('\nnext\n')])).toEqual([long, 'next']);
  });

  it('stops as soon as the reader says so', () => {
    expect(split([Buffer.from('1\n2\n3\n4\n')], 2)).toEqual(['1', '2']);
  });
});
