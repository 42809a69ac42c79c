import { Worker } from 'node:worker_threads';
import { UsageError } from '../errors.js';
import type { Analyzer, Evidence } from './analyzer.js';
import { BatchReader, type RecordBatch } from './recordBatch.js';
import type { FileReport, ReadOptions } from './read.js';

/** What the reading thread is given. */
export interface ReadWorkerData extends ReadOptions {
  readonly files: readonly string[];
  /** The memory of `TakenBatches`, shared by both threads. */
  readonly taken: SharedArrayBuffer;
}

/** What the reading thread says, in order. */
export type ReadMessage =
  | { readonly kind: 'file'; readonly file: string; readonly resolutionMs: number; readonly unit: Evidence['unit'] | undefined }
  | { readonly kind: 'records'; readonly batch: RecordBatch }
  | { readonly kind: 'read'; readonly report: FileReport }
  | { readonly kind: 'failed'; readonly message: string; readonly usage: boolean };

/** Batches sent and not yet taken before the reader waits: what the reading may run ahead by. */
const BATCHES_AHEAD = 16;

/** The reading's flow control: batches the analyzer has taken, counted by it, waited on by the reader. */
export class TakenBatches {
  private readonly count: Int32Array;

  constructor(readonly memory = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)) {
    this.count = new Int32Array(memory);
  }

  /** The analyzer has taken one more batch. */
  took(): void {
    Atomics.add(this.count, 0, 1);
    Atomics.notify(this.count, 0);
  }

  /** The reader, `sent` batches sent, waits until it is at most `BATCHES_AHEAD` ahead. */
  waitUntilWithin(sent: number): void {
    for (let seen = Atomics.load(this.count, 0); sent - seen > BATCHES_AHEAD; seen = Atomics.load(this.count, 0)) Atomics.wait(this.count, 0, seen);
  }
}

/**
 * Reads the files on a thread of its own while this one analyzes: reading and cutting lines
 * into records costs about what the analysis of them does, so on two cores the two halves run
 * side by side. Records come back in batches, in the files' order; the reader waits whenever it
 * is `BATCHES_AHEAD` batches ahead, so memory stays flat however long the file is.
 */
export function readFiles(files: readonly string[], analyzer: Analyzer, options: ReadOptions): Promise<FileReport[]> {
  const taken = new TakenBatches();
  const data: ReadWorkerData = { ...options, files, taken: taken.memory };
  const worker = new Worker(new URL('./readWorker.js', import.meta.url), { workerData: data });
  const batches = new BatchReader();
  const add = analyzer.add.bind(analyzer);
  const reports: FileReport[] = [];
  return new Promise((resolve, reject) => {
    worker.on('message', (message: ReadMessage) => {
      switch (message.kind) {
        case 'file':
          analyzer.beginFile(message.file, message.resolutionMs, message.unit);
          return;
        case 'records':
          batches.read(message.batch, add);
          taken.took();
          return;
        case 'read':
          reports.push(message.report);
          if (reports.length === files.length) resolve(reports);
          return;
        case 'failed':
          reject(message.usage ? new UsageError(message.message) : new Error(message.message));
      }
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (reports.length < files.length) reject(new Error(`analyze: the reading thread stopped (exit code ${code})`));
    });
  });
}
