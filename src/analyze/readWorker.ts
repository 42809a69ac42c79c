import { parentPort, workerData } from 'node:worker_threads';
import { UsageError } from '../errors.js';
import { BatchWriter } from './recordBatch.js';
import { readInto, type RecordSink } from './read.js';
import { BATCHES_AHEAD, type ReadMessage, type ReadWorkerData } from './readThread.js';

// The reading thread of `readFiles`: each file read into records, sent in batches, in order.
const { files, taken, ...options } = workerData as ReadWorkerData;
const port = parentPort!;
const takenCount = new Int32Array(taken);
const say = (message: ReadMessage, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);

let sent = 0;
const writer = new BatchWriter((batch) => {
  say({ kind: 'records', batch }, [batch.numbers.buffer as ArrayBuffer, batch.ids.buffer as ArrayBuffer]);
  sent++;
  for (let seen = Atomics.load(takenCount, 0); sent - seen > BATCHES_AHEAD; seen = Atomics.load(takenCount, 0)) Atomics.wait(takenCount, 0, seen);
});
const sink: RecordSink = {
  beginFile: (file, resolutionMs, unit = 'line') => {
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
