import { parentPort, workerData } from 'node:worker_threads';
import { UsageError } from '../errors.js';
import { BatchWriter } from './recordBatch.js';
import { readInto, type RecordSink } from './read.js';
import { TakenBatches, type ReadMessage, type ReadWorkerData } from './readThread.js';

// The reading thread of `readFiles`: each file read into records, sent in batches, in order.
const { files, taken, ...options } = workerData as ReadWorkerData;
const port = parentPort!;
const takenBatches = new TakenBatches(taken);
const say = (message: ReadMessage, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);

let sent = 0;
const writer = new BatchWriter((batch) => {
  say({ kind: 'records', batch }, [batch.numbers.buffer as ArrayBuffer, batch.ids.buffer as ArrayBuffer]);
  takenBatches.waitUntilWithin(++sent);
});
const sink: RecordSink = {
  beginFile: (file, resolutionMs, unit) => {
    writer.flush();
    say({ kind: 'file', file, resolutionMs, unit });
  },
  add: (record) => writer.add(record),
};

try {
  for (const file of files) {
    const report = readInto(file, sink, options);
    writer.flush();
    say({ kind: 'read', report });
  }
} catch (error) {
  say({ kind: 'failed', message: error instanceof UsageError ? error.message : ((error as Error).stack ?? String(error)), usage: error instanceof UsageError });
}
