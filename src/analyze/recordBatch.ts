import { detached, queryTokenHash, type AccessRecord, type RecordFields } from './record.js';

/**
 * Requests on their way from the reading thread to the analyzing one, where they become records:
 * numbers in a `Float64Array`, strings as ids (an `Int32Array`) into a table both sides grow in
 * step; both arrays are moved, not copied. The analyzer gets the same string object for a client
 * or a path on every line, and V8 hashes each of them once instead of once per line.
 */
export interface RecordBatch {
  readonly numbers: Float64Array;
  readonly ids: Int32Array;
  readonly count: number;
  /** Strings first used by this batch, in id order. */
  readonly strings: readonly string[];
  /** The table was emptied before this batch: its ids start again from 0. */
  readonly restart: boolean;
}

const LINE = 0;
const TOKEN_HASH = 1;
const STATUS = 2;
const START_MS = 3;
const END_MS = 4;
const BYTES = 5;
const EVENTS = 6;
const TERMINAL_EVENT = 7;
const SAYS_TERMINAL = 8;
const RETRY_AFTER_SECONDS = 9;
const NUMBERS = 10;

const CLIENT = 0;
const METHOD = 1;
const PATH = 2;
const LAST_EVENT_ID = 3;
const GENERATION_HINT = 4;
const IDS = 5;

/** Records per batch: 160 KiB of numbers and 40 KiB of ids. */
export const BATCH_RECORDS = 2048;
/** Distinct strings kept before the table starts again (a log of millions of generations). */
export const TABLE_MAX = 200_000;
/** An absent string: ids are never negative. An absent number is NaN, which no field holds. */
const ABSENT_ID = -1;

/** The reading side: requests into batches, handed to `send` when full or flushed. */
export class BatchWriter {
  private numbers = new Float64Array(BATCH_RECORDS * NUMBERS);
  private ids = new Int32Array(BATCH_RECORDS * IDS);
  private count = 0;
  private strings: string[] = [];
  private readonly table = new Map<string, number>();
  /** The table's strings by id. */
  private texts: string[] = [];
  /** By client id: the client's last two paths. */
  private recentPaths: RecentPaths[] = [];
  private restart = false;

  constructor(private readonly send: (batch: RecordBatch) => void) {}

  /** The target is cut here, once: its path becomes an id, its token a hash. */
  add(record: RecordFields): void {
    const { target } = record;
    const question = target.indexOf('?');
    const { numbers, ids } = this;
    const at = this.count * NUMBERS;
    numbers[at + LINE] = record.line;
    numbers[at + TOKEN_HASH] = (question < 0 ? undefined : queryTokenHash(target, question + 1)) ?? NaN;
    numbers[at + STATUS] = record.status ?? NaN;
    numbers[at + START_MS] = record.startMs ?? NaN;
    numbers[at + END_MS] = record.endMs ?? NaN;
    numbers[at + BYTES] = record.bytes ?? NaN;
    numbers[at + EVENTS] = record.events ?? NaN;
    numbers[at + TERMINAL_EVENT] = record.terminalEvent === true ? 1 : 0;
    numbers[at + SAYS_TERMINAL] = record.saysTerminal === true ? 1 : 0;
    numbers[at + RETRY_AFTER_SECONDS] = record.retryAfterSeconds ?? NaN;
    const idsAt = this.count * IDS;
    const client = this.idOf(record.client);
    ids[idsAt + CLIENT] = client;
    ids[idsAt + METHOD] = this.idOf(record.method);
    ids[idsAt + PATH] = this.pathIdOf(client, question < 0 ? target : target.slice(0, question));
    ids[idsAt + LAST_EVENT_ID] = record.lastEventId === undefined ? ABSENT_ID : this.idOf(record.lastEventId);
    ids[idsAt + GENERATION_HINT] = record.generationHint === undefined ? ABSENT_ID : this.idOf(record.generationHint);
    if (++this.count === BATCH_RECORDS) this.flush();
  }

  /** Sends what the batch holds, if anything. */
  flush(): void {
    if (this.count === 0) return;
    this.send({ numbers: this.numbers, ids: this.ids, count: this.count, strings: this.strings, restart: this.restart });
    this.numbers = new Float64Array(BATCH_RECORDS * NUMBERS);
    this.ids = new Int32Array(BATCH_RECORDS * IDS);
    this.count = 0;
    this.strings = [];
    this.restart = false;
    if (this.table.size > TABLE_MAX) {
      this.table.clear();
      this.texts = [];
      this.recentPaths = [];
      this.restart = true;
    }
  }

  /**
   * A client alternates its token and stream paths: one of its last two, compared as strings,
   * costs less than hashing the path cut from each new line.
   */
  private pathIdOf(client: number, path: string): number {
    const recent = (this.recentPaths[client] ??= new RecentPaths());
    if (path === recent.lastPath) return recent.lastId;
    const { otherPath, otherId } = recent;
    recent.otherPath = recent.lastPath;
    recent.otherId = recent.lastId;
    recent.lastId = path === otherPath ? otherId : this.idOf(path);
    recent.lastPath = this.texts[recent.lastId]!;
    return recent.lastId;
  }

  private idOf(text: string): number {
    let id = this.table.get(text);
    if (id === undefined) {
      // A copy: the key cut from a line would keep that line's whole chunk of the file alive.
      const key = detached(text);
      id = this.table.size;
      this.table.set(key, id);
      this.texts.push(key);
      this.strings.push(key);
    }
    return id;
  }
}

/** A client's last two paths and their ids. */
class RecentPaths {
  lastPath = '';
  lastId = ABSENT_ID;
  otherPath = '';
  otherId = ABSENT_ID;
}

/** The analyzing side: batches into records. */
export class BatchReader {
  private table: string[] = [];

  /** Calls `onRecord` for each record of the batch, in order. */
  read(batch: RecordBatch, onRecord: (record: AccessRecord) => void): void {
    if (batch.restart) this.table = [];
    for (const text of batch.strings) this.table.push(text);
    for (let i = 0; i < batch.count; i++) onRecord(this.record(batch.numbers, i * NUMBERS, batch.ids, i * IDS));
  }

  /** Every record built here, field by field in one order: one shape for the analyzer. */
  private record(numbers: Float64Array, at: number, ids: Int32Array, idsAt: number): AccessRecord {
    const { table } = this;
    const tokenHash = present(numbers[at + TOKEN_HASH]!);
    return {
      line: numbers[at + LINE]!,
      client: table[ids[idsAt + CLIENT]!]!,
      method: table[ids[idsAt + METHOD]!]!,
      path: table[ids[idsAt + PATH]!]!,
      hasToken: tokenHash !== undefined,
      tokenHash,
      status: present(numbers[at + STATUS]!),
      startMs: present(numbers[at + START_MS]!),
      endMs: present(numbers[at + END_MS]!),
      bytes: present(numbers[at + BYTES]!),
      events: present(numbers[at + EVENTS]!),
      terminalEvent: numbers[at + TERMINAL_EVENT] === 1,
      saysTerminal: numbers[at + SAYS_TERMINAL] === 1,
      retryAfterSeconds: present(numbers[at + RETRY_AFTER_SECONDS]!),
      lastEventId: this.textOf(ids[idsAt + LAST_EVENT_ID]!),
      generationHint: this.textOf(ids[idsAt + GENERATION_HINT]!),
    };
  }

  private textOf(id: number): string | undefined {
    return id === ABSENT_ID ? undefined : this.table[id];
  }
}

function present(value: number): number | undefined {
  return Number.isNaN(value) ? undefined : value;
}
