import { describe, expect, it } from 'vitest';
import type { AccessRecord, RecordFields } from '../src/analyze/record.js';
import { BATCH_RECORDS, BatchReader, BatchWriter, TABLE_MAX, type RecordBatch } from '../src/analyze/recordBatch.js';

/** Requests through a writer and a reader, as they cross from the reading thread to the analyzer. */
function roundTrip(requests: readonly RecordFields[]): { out: AccessRecord[]; batches: RecordBatch[] } {
  const batches: RecordBatch[] = [];
  const writer = new BatchWriter((batch) => batches.push(batch));
  for (const request of requests) writer.add(request);
  writer.flush();
  const reader = new BatchReader();
  const out: AccessRecord[] = [];
  for (const batch of batches) reader.read(batch, (record) => out.push(record));
  return { out, batches };
}

const id = '0c9055c8-b6fa-4b5e-bf5e-000000000123';
const tokenPath = `/api/generations/generate/${id}/stream-token`;
const streamPath = `/api/generations/generate/${id}/stream`;
const token: RecordFields = { target: tokenPath, line: 1, client: '10.0.0.1', method: 'POST', status: 429, startMs: 1_760_630_400_000.5, endMs: 1_760_630_400_004, bytes: 97, retryAfterSeconds: 60 };
const stream: RecordFields = {
  target: `${streamPath}?x=1&token=abc&y=2`,
  line: 2,
  client: '10.0.0.1',
  method: 'GET',
  status: 200,
  startMs: 5,
  endMs: 30_017,
  events: 3,
  terminalEvent: true,
  lastEventId: '42',
  generationHint: id,
};
const unanswered: RecordFields = { target: '/stream-token?token=', line: 3, client: 'app', method: 'POST', status: undefined, saysTerminal: true };

const absent = { tokenHash: undefined, status: undefined, startMs: undefined, endMs: undefined, bytes: undefined, events: undefined, retryAfterSeconds: undefined, lastEventId: undefined, generationHint: undefined };

describe('record batches between the reading thread and the analyzer', () => {
  it('carry every field, absent ones included; the path is cut from the target, the token kept only as a hash', () => {
    const { out } = roundTrip([token, stream, unanswered, { ...stream, line: 4, target: `${streamPath}?token=abd` }]);
    expect(out.slice(0, 3)).toEqual([
      { ...absent, line: 1, client: '10.0.0.1', method: 'POST', path: tokenPath, hasToken: false, status: 429, startMs: 1_760_630_400_000.5, endMs: 1_760_630_400_004, bytes: 97, terminalEvent: false, saysTerminal: false, retryAfterSeconds: 60 },
      { ...absent, line: 2, client: '10.0.0.1', method: 'GET', path: streamPath, hasToken: true, tokenHash: expect.any(Number), status: 200, startMs: 5, endMs: 30_017, events: 3, terminalEvent: true, saysTerminal: false, lastEventId: '42', generationHint: id },
      // An empty token is no token.
      { ...absent, line: 3, client: 'app', method: 'POST', path: '/stream-token', hasToken: false, terminalEvent: false, saysTerminal: true },
    ]);
    expect(out[3]!.tokenHash).not.toBe(out[1]!.tokenHash);
    expect(JSON.stringify(out)).not.toContain('abc');
    // One shape: the same keys in the same order, whatever the format left out.
    for (const record of out) expect(Object.keys(record)).toEqual(Object.keys(out[0]!));
  });

  it('send each string once, and give the analyzer one string object for a client or a path on every line', () => {
    const lines = Array.from({ length: BATCH_RECORDS + 10 }, (_, i) => (i % 2 === 0 ? { ...token, line: i + 1 } : { ...stream, line: i + 1 }));
    const { out, batches } = roundTrip(lines);
    expect(batches.map((batch) => batch.count)).toEqual([BATCH_RECORDS, 10]);
    expect(batches[0]!.strings).toEqual(['10.0.0.1', 'POST', tokenPath, 'GET', streamPath, '42', id]);
    expect(batches[1]!.strings).toEqual([]);
    expect(out.map((record) => record.line)).toEqual(lines.map((record) => record.line));
    expect(new Set(out.map((record) => record.client)).size).toBe(1);
    expect(out[0]!.path).toBe(out[BATCH_RECORDS + 8]!.path);
    expect(out[1]!.path).toBe(out[BATCH_RECORDS + 9]!.path);
  });

  it('keep each client to its own paths when clients take turns, and tell apart paths of one length', () => {
    const other = { ...stream, client: '10.0.0.2', target: '/api/generations/generate/other/stream' };
    const sameLength = { ...stream, target: streamPath.replace('123', '456') };
    const sent = [token, stream, other, token, other, stream, sameLength, stream, sameLength, token, sameLength];
    const { out } = roundTrip(sent);
    expect(out.map((record) => `${record.client} ${record.path}`)).toEqual(sent.map((request) => `${request.client} ${request.target.split('?')[0]}`));
  });

  it('start their string table again past its bound, and every record still names its own client and path', () => {
    // Every request from a client of its own: the table fills with addresses and paths, then starts again.
    const sent = Array.from({ length: TABLE_MAX + 5_000 }, (_, i) => ({ ...stream, line: i + 1, client: `c${i}`, target: `/g/${i % 7}/stream` }));
    const { out, batches } = roundTrip(sent);
    expect(batches.filter((batch) => batch.restart)).toHaveLength(1);
    expect(out).toHaveLength(sent.length);
    for (const i of [0, 1, TABLE_MAX - 1, TABLE_MAX + 4_999]) expect(out[i]).toMatchObject({ line: i + 1, client: `c${i}`, path: `/g/${i % 7}/stream`, method: 'GET', lastEventId: '42', generationHint: id });
    expect(out.every((record, i) => record.client === `c${i}` && record.path === `/g/${i % 7}/stream`)).toBe(true);
  });
});
