import { runLoad } from './runner.js';
import type { FromWorker, ToWorker } from './workers.js';

// A `load --workers N` child: runs the share of the plan it is sent and reports back over IPC.
const stop = new AbortController();
// The parent may be gone or have let go of the channel (Ctrl-C, a run cut short): then there is no one to tell.
const send = (message: FromWorker) => new Promise<void>((resolve) => (process.send && process.connected ? process.send(message, () => resolve()) : resolve()));

// Ctrl-C reaches the whole process group: stop and still report, as the parent does.
process.on('SIGINT', () => stop.abort());
process.on('SIGTERM', () => stop.abort());
process.on('message', (message: ToWorker) => {
  if (message.kind === 'stop') {
    stop.abort();
    return;
  }
  runLoad(message.plan, { signal: stop.signal, onSecond: (snapshot) => void send({ kind: 'second', snapshot }) })
    .then((part) => send({ kind: 'done', part }))
    .catch((error: unknown) => send({ kind: 'failed', message: (error as Error).message }))
    .finally(() => {
      if (process.connected) process.disconnect();
    });
});
