import { describe, expect, it } from 'vitest';
import { accessRecord, type AccessRecord } from '../src/analyze/record.js';
import { BATCH_RECORDS, BatchReader, BatchWriter, type RecordBatch } from '../src/analyze/recordBatch.js';

/** Records through a writer and a reader, as they cross from the reading thread to the analyzer. */
function roundTrip(records: readonly AccessRecord[]): { out: AccessRecord[]; batches: RecordBatch[] } {
  const batches: RecordBatch[] = [];
  const writer = new BatchWriter((batch) => batches.push(batch));
  for (const record of records) writer.add(record);
  writer.flush();
  const reader = new BatchReader();
  const out: AccessRecord[] = [];
  for (const batch of batches) reader.read(batch, (record) => out.push(record));
  return { out, batches };
}

const id = '0c9055c8-b6fa-4b5e-bf5e-000000000123';
const token = accessRecord({ target: `/api/generations/generate/${id}/stream-token`, line: 1, client: '10.0.0.1', method: 'POST', status: 429, startMs: 1_760_630_400_000.5, endMs: 1_760_630_400_004, bytes: 97, retryAfterSeconds: 60 });
const stream = accessRecord({
  target: `/api/generations/generate/${id}/stream?token=abc&x=1`,
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
});
const unanswered = accessRecord({ target: '/stream-token', line: 3, client: 'app', method: 'POST', status: undefined, saysTerminal: true });

describe('record batches between the reading thread and the analyzer', () => {
  it('carry every field, absent ones included, and give records the shape accessRecord builds', () => {
    const { out } = roundTrip([token, stream, unanswered]);
    expect(out).toEqual([token, stream, unanswered]);
    for (const [i, record] of out.entries()) expect(Object.keys(record)).toEqual(Object.keys([token, stream, unanswered][i]!));
    expect(out[1]).toMatchObject({ hasToken: true, tokenHash: stream.tokenHash, path: `/api/generations/generate/${id}/stream` });
  });

  it('send each string once, and give the analyzer one string object for a client or a path on every line', () => {
    const lines = Array.from({ length: BATCH_RECORDS + 10 }, (_, i) => (i % 2 === 0 ? { ...token, line: i + 1 } : { ...stream, line: i + 1 }));
    const { out, batches } = roundTrip(lines);
    expect(batches.map((batch) => batch.count)).toEqual([BATCH_RECORDS, 10]);
    expect(batches[0]!.strings).toEqual(['10.0.0.1', 'POST', token.path, 'GET', stream.path, '42', id]);
    expect(batches[1]!.strings).toEqual([]);
    expect(out.map((record) => record.line)).toEqual(lines.map((record) => record.line));
    expect(new Set(out.map((record) => record.client)).size).toBe(1);
    expect(out[0]!.path).toBe(out[BATCH_RECORDS + 8]!.path);
    expect(out[1]!.path).toBe(out[BATCH_RECORDS + 9]!.path);
  });

  it('keep each client to its own paths when clients take turns, and tell apart paths of one length', () => {
    const other = { ...stream, client: '10.0.0.2', path: '/api/generations/generate/other/stream' };
    const sameLength = { ...stream, path: stream.path.replace('123', '456') };
    const sent = [token, stream, other, token, other, stream, sameLength, stream, sameLength, token, sameLength];
    const { out } = roundTrip(sent);
    expect(out.map((record) => `${record.client} ${record.path}`)).toEqual(sent.map((record) => `${record.client} ${record.path}`));
  });
});
