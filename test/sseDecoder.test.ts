import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseDecoder, type SseEvent, type SseNotice } from '../src/engine/sseDecoder.js';
import { splitBytes } from './helpers/misbehaving.js';

function decode(input: string | Buffer, chunkSize = Number.MAX_SAFE_INTEGER, maxLineBytes = 1 << 20) {
  const events: Pick<SseEvent, 'id' | 'event' | 'data' | 'lastEventId'>[] = [];
  const notices: SseNotice['kind'][] = [];
  let tooLong = 0;
  const decoder = new SseDecoder(
    {
      onEvent: ({ id, event, data, lastEventId }) => events.push({ id, event, data, lastEventId }),
      onNotice: (notice) => notices.push(notice.kind),
      onLineTooLong: () => tooLong++,
    },
    maxLineBytes,
  );
  for (const piece of splitBytes(input, chunkSize)) decoder.push(piece, 0);
  decoder.end(0);
  return { events, notices, tooLong };
}

const STREAM = '\uFEFFid: 1\nevent: progress\ndata: {"stage":"connected","msg":"héllo ✓ 🚀"}\n\n: heartbeat\n\ndata: two\r\ndata: lines\r\n\r\nid: 7\rdata: cr\r\r';

describe('SseDecoder', () => {
  it.each([1, 2, 3, 5, 7, 64])('dispatches the same events for %i-byte chunks (CRLF and UTF-8 split across chunks)', (size) => {
    const whole = decode(STREAM);
    const split = decode(STREAM, size);
    expect(split.events).toEqual(whole.events);
    expect(whole.events).toEqual([
      { id: '1', event: 'progress', data: '{"stage":"connected","msg":"héllo ✓ 🚀"}', lastEventId: '1' },
      { id: undefined, event: undefined, data: 'two\nlines', lastEventId: '1' },
      { id: '7', event: undefined, data: 'cr', lastEventId: '7' },
    ]);
    expect(split.notices).toContain('comment');
  });

  it('decodes bad and cut-off UTF-8 as a TextDecoder does, in chunks of any size', () => {
    const bytes = Buffer.concat([
      Buffer.from('data: '),
      Buffer.from([0xe2, 0x82, 0x41, 0xc0, 0xaf, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0, 0x80, 0xf8, 0x80, 0xe0, 0x80, 0x42, 0xff]),
      Buffer.from(' é ✓ 🚀\n\ndata: cut '),
      Buffer.from([0xf0, 0x9f, 0x98]),
    ]);
    const expected = new TextDecoder().decode(bytes).split('\n\n').map((block) => block.slice('data: '.length));
    expect(expected[1]).toBe('cut \uFFFD');
    for (const size of [1, 2, 3, 4, 5, 7, 64]) {
      const data: string[] = [];
      const decoder = new SseDecoder(
        {
          onEvent: (event) => data.push(event.data),
          onNotice: (notice) => notice.kind === 'unterminated-event' && data.push(notice.data),
          onLineTooLong: () => {},
        },
        1 << 20,
      );
      for (const piece of splitBytes(bytes, size)) decoder.push(piece, 0);
      decoder.end(0);
      expect(data).toEqual(expected);
    }
  });

  it('keeps streams apart when their events are cut mid-way and interleaved', () => {
    const seen = (name: string, log: string[]) => ({
      onEvent: (event: SseEvent) => log.push(`${name}:${event.data}`),
      onNotice: (notice: SseNotice) => notice.kind === 'comment' && log.push(`${name}:#${notice.text}`),
      onLineTooLong: () => log.push(`${name}:too long`),
    });
    const log: string[] = [];
    const a = new SseDecoder(seen('a', log), 1 << 20);
    const b = new SseDecoder(seen('b', log), 1 << 20);
    const c = new SseDecoder(seen('c', log), 16);
    const feeds: [SseDecoder, string][] = [
      [a, 'data: a1\r'],
      [b, 'data: b1\r\n\r\n'],
      [a, '\ndata: a2\r\n\r'],
      [c, 'data: c1\n\n: hi\n\ndata: c'],
      [b, 'data: b'],
      [a, '\n'],
      [c, 'x'.repeat(20)],
      [b, '2\n\n'],
      [a, 'id'],
      [b, ': bye\n\n'],
      [a, ': 3\ndata: a3\n\n'],
    ];
    for (const [decoder, text] of feeds) decoder.push(Buffer.from(text), 0);
    for (const decoder of [a, b, c]) decoder.end(0);
    expect(log).toEqual(['b:b1', 'c:c1', 'c:#hi', 'a:a1\na2', 'c:too long', 'b:b2', 'b:#bye', 'a:a3']);
  });

  it('strips exactly one BOM: a second one makes the first field unknown', () => {
    expect(decode('\uFEFFdata: a\n\n').events.map((e) => e.data)).toEqual(['a']);
    const twice = decode('\uFEFF\uFEFFdata: a\n\ndata: b\n\n');
    expect(twice.events.map((e) => e.data)).toEqual(['b']);
    expect(twice.notices).toContain('unknown-field');
  });

  it('follows the WHATWG rules for empty data, fields without colon and unknown fields', () => {
    const { events, notices } = decode('data\n\ndata:\ndata:\n\nevent: x\n\nfoo: bar\ndata: y\n\n');
    // "data" alone and two empty data lines dispatch; an event with no data line does not.
    expect(events.map((e) => e.data)).toEqual(['', '\n', 'y']);
    expect(notices).toEqual(['unknown-field']);
  });

  it('keeps the last event id across events and lets an empty id reset it', () => {
    const { events } = decode('id: 5\ndata: a\n\ndata: b\n\nid\ndata: c\n\n');
    expect(events.map((e) => e.lastEventId)).toEqual(['5', '5', '']);
  });

  it('ignores an id containing NUL, as the spec says', () => {
    const { events } = decode('id: 3\ndata: a\n\nid: 4\u0000x\ndata: b\n\n');
    expect(events.map((e) => e.lastEventId)).toEqual(['3', '3']);
  });

  it('reports an unterminated last event instead of dispatching it', () => {
    const { events, notices } = decode('data: done\n\ndata: cut off');
    expect(events.map((e) => e.data)).toEqual(['done']);
    expect(notices).toEqual(['unterminated-event']);
    expect(decode('data: cut\n').notices).toEqual(['unterminated-event']);
  });

  it('reports retry advice and an invalid retry value', () => {
    expect(decode('retry: 1500\n\nretry: soon\n\n').notices).toEqual(['retry', 'invalid-retry']);
  });

  it('calls a line that never ends a broken stream, without buffering it forever', () => {
    const { events, tooLong } = decode(`data: ${'x'.repeat(5000)}`, 256, 1024);
    expect(tooLong).toBe(1);
    expect(events).toEqual([]);
  });
});

describe('SseDecoder under any chunking (fast-check)', () => {
  const field = fc.string({ unit: fc.constantFrom('a', 'é', '✓', '🚀', ' ', ':', '\x1b', 'x') });
  const line = fc.oneof(
    field.map((value) => `data: ${value}`),
    field.map((value) => `id: ${value.replace(/\0/g, '')}`),
    field.map((value) => `event: ${value}`),
    field.map((value) => `: ${value}`),
    fc.constant(''),
  );
  const stream = fc.tuple(fc.array(line, { maxLength: 30 }), fc.constantFrom('\n', '\r\n', '\r')).map(([lines, eol]) => `${lines.join(eol)}${eol}${eol}`);

  it('dispatches the same events and notices whatever the chunk boundaries', () => {
    fc.assert(
      fc.property(stream, fc.integer({ min: 1, max: 17 }), (text, size) => {
        const whole = decode(text);
        const split = decode(text, size);
        expect(split.events).toEqual(whole.events);
        expect(split.notices).toEqual(whole.notices);
      }),
      { numRuns: 300 },
    );
  });
});
