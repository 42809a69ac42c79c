import { closeSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { UsageError } from '../errors.js';
import type { ProfileTerminal } from '../engine/target.js';
import type { AnalyzeResult, Analyzer } from './analyzer.js';
import { HAR_MAX_BYTES, harRecords } from './har.js';
import { LineSplitter } from './lineSplitter.js';
import { AppLogReader, JsonLinesReader, NginxReader, UvicornReader, detectFormat, type JsonFieldMap, type LineReader } from './lineFormats.js';
import type { LogFormat, RecordFields } from './record.js';

/** What reading one file gave. */
export interface FileReport {
  readonly file: string;
  readonly format: LogFormat;
  readonly lines: number;
  readonly records: number;
  readonly unreadable: number;
  /** The first few unreadable lines' numbers. */
  readonly unreadableLines: readonly number[];
}

/** The whole report: what each file gave, then the analysis of all of them together. */
export interface AnalyzeReport extends AnalyzeResult {
  readonly files: readonly FileReport[];
}

export interface ReadOptions {
  /** Forces a format instead of detecting it from the first lines. */
  readonly format: LogFormat | undefined;
  readonly jsonFields: JsonFieldMap;
  readonly terminal: ProfileTerminal;
}

/** Where the requests read go: the batches that carry them to the analyzer. */
export interface RecordSink {
  beginFile: Analyzer['beginFile'];
  add(record: RecordFields): void;
}

/** Lines looked at to tell a file's format before giving up on it. */
const DETECT_LINES = 20;
const UNREADABLE_SHOWN = 5;
const BLANK = /^\s*$/;
const SPACE = 32;
const TILDE = 126;

/** Most lines start with printable ASCII: the regular expression only for the few that do not. */
function isBlank(line: string): boolean {
  const first = line.charCodeAt(0);
  return line.length === 0 || ((first <= SPACE || first > TILDE) && BLANK.test(line));
}

function lineReaderFor(format: Exclude<LogFormat, 'har'>, fields: JsonFieldMap): LineReader {
  switch (format) {
    case 'nginx':
      return new NginxReader();
    case 'uvicorn':
      return new UvicornReader();
    case 'applog':
      return new AppLogReader();
    case 'jsonl':
      return new JsonLinesReader(fields);
  }
}

/** Bytes read at a time: larger chunks decode to strings V8 handles far more slowly. */
const CHUNK_BYTES = 64 * 1024;
/** A pause before reading again from standard input that has nothing yet (a non-blocking pipe). */
const RETRY_EMPTY_MS = 5;
const STDIN = 0;

function openFile(file: string): number {
  try {
    return openSync(file, 'r');
  } catch (error) {
    throw new UsageError(`analyze: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { cause: error });
  }
}

/** Blocks the reading thread, which has nothing else to do while it waits. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A file's chunks (`fd` 0: standard input), read synchronously on the reading thread: a read
 * through the thread pool for every chunk leaves the reader waiting for that thread, and on a
 * busy machine the wait costs more than the read. One buffer is read into again and again: each
 * chunk is decoded into a string before the next is read.
 */
function* fileChunks(fd: number): Generator<Buffer> {
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  for (;;) {
    let bytes: number;
    try {
      bytes = readSync(fd, buffer, 0, CHUNK_BYTES, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      pause(RETRY_EMPTY_MS);
      continue;
    }
    if (bytes === 0) return;
    yield buffer.subarray(0, bytes);
  }
}

/**
 * Streams one file (`-`: standard input) line by line into the sink. A line it cannot read is
 * counted; a file it cannot open, or whose format it cannot tell, is a usage error (exit 2).
 */
export function readInto(file: string, sink: RecordSink, options: ReadOptions): FileReport {
  const name = file === '-' ? 'stdin' : file;
  const fd = file === '-' ? STDIN : openFile(file);
  const splitter = new LineSplitter();
  let format = options.format;
  let reader: LineReader | undefined;
  let lineNumber = 0;
  let records = 0;
  let unreadable = 0;
  const unreadableLines: number[] = [];
  const harParts: string[] = [];
  let harBytes = 0;
  const emit = (record: RecordFields) => {
    records++;
    sink.add(record);
  };
  const skip = (line: number) => {
    unreadable++;
    if (unreadableLines.length < UNREADABLE_SHOWN) unreadableLines.push(line);
  };
  const readLine = (line: string): boolean => {
    lineNumber++;
    if (format === 'har') {
      harBytes += line.length + 1;
      if (harBytes > HAR_MAX_BYTES) throw new UsageError(`analyze: ${name} is a HAR over ${HAR_MAX_BYTES / 1024 / 1024} MB; a HAR is one JSON document and is read whole, so larger ones are refused (split the recording, or export the access log instead)`);
      harParts.push(line);
      return true;
    }
    if (isBlank(line)) return true;
    if (format === undefined) {
      format = detectFormat(line);
      if (format === undefined) {
        skip(lineNumber);
        return lineNumber < DETECT_LINES;
      }
      if (format === 'har') {
        harParts.push(line);
        harBytes += line.length + 1;
        return true;
      }
    }
    if (reader === undefined) {
      reader = lineReaderFor(format, options.jsonFields);
      sink.beginFile(basename(name), reader.resolutionMs);
    }
    if (!reader.read(line, lineNumber, emit)) skip(lineNumber);
    return true;
  };
  try {
    let reading = true;
    for (const chunk of fileChunks(fd)) {
      reading = splitter.push(chunk, readLine);
      if (!reading) break;
    }
    if (reading) splitter.end(readLine);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`analyze: cannot read ${name} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { cause: error });
  } finally {
    if (fd !== STDIN) closeSync(fd);
  }
  if (format === undefined) {
    throw new UsageError(`analyze: cannot tell the format of ${name} (not a HAR, an nginx or uvicorn access log, an application log or JSON lines); name it with --format`);
  }
  if (format === 'har') {
    const text = harParts.join('\n');
    // Browsers and Playwright often write a HAR on one line: evidence then names entries, not lines.
    sink.beginFile(basename(name), 1, harParts.length > 1 ? 'line' : 'entry');
    let har: ReturnType<typeof harRecords>;
    try {
      har = harRecords(text, `har:${basename(name)}`, options.terminal);
    } catch (error) {
      throw new UsageError(`analyze: ${name} is not a readable HAR (${(error as Error).message})`, { cause: error });
    }
    for (const record of har.records) emit(record);
    for (const line of har.unreadable) skip(line);
  }
  return { file: name, format, lines: lineNumber, records, unreadable, unreadableLines };
}
