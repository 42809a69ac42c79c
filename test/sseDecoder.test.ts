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
