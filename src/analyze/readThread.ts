import { Worker } from 'node:worker_threads';
import { UsageError } from '../errors.js';
import type { Analyzer, Evidence } from './analyzer.js';
import { BatchReader, type RecordBatch } from './recordBatch.js';
import type { FileReport, ReadOptions } from './read.js';

/** What the reading thread is given. */
export interface ReadWorkerData extends ReadOptions {
  readonly files: readonly string[];
  /** One Int32: batches the analyzer has taken, counted by it, waited on by the reader. */
  readonly taken: SharedArrayBuffer;
}

/** What the reading thread says, in order. */
export type ReadMessage =
  | { readonly kind: 'file'; readonly file: string; readonly resolutionMs: number; readonly unit: Evidence['unit'] }
  | { readonly kind: 'records'; readonly batch: RecordBatch }
  | { readonly kind: 'read'; readonly report: FileReport }
  | { readonly kind: 'failed'; readonly message: string; readonly usage: boolean };

/** Batches sent and not yet taken before the reader waits: what the reading may run ahead by. */
export const BATCHES_AHEAD = 16;

const TAKEN = 0;

/**
 * Reads the files on a thread of its own while this one analyzes: reading and cutting lines
 * into records costs about what the analysis of them does, so on two cores the two halves run
 * side by side. Records come back in batches, in the files' order; the reader waits whenever it
 * is `BATCHES_AHEAD` batches ahead, so memory stays flat however long the file is.
 */
export function readFiles(files: readonly string[], analyzer: Analyzer, options: ReadOptions): Promise<FileReport[]> {
  const taken = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  const takenCount = new Int32Array(taken);
  const data: ReadWorkerData = { files, format: options.format, jsonFields: options.jsonFields, terminal: options.terminal, taken };
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
          Atomics.add(takenCount, TAKEN, 1);
          Atomics.notify(takenCount, TAKEN);
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
