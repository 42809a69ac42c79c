// The entry of one worker process of `serve --workers N`, forked by `clusterPrimary.ts`.
import { startReferenceServer, type ReferenceServer } from './referenceServer.js';
import { IpcSharedState } from './sharedStateRpc.js';
import { WORKER_CONFIG_ENV, type WorkerConfig, type WorkerReport } from './workerMessages.js';

// Written by our own primary, so trusted as is.
const config = JSON.parse(process.env[WORKER_CONFIG_ENV] ?? '') as WorkerConfig;

function report(message: WorkerReport): void {
  if (process.connected) process.send?.(message);
}

const starting: Promise<ReferenceServer> = startReferenceServer({
  port: config.port,
  host: config.host,
  faults: config.faults,
  timings: config.timings,
  sharedState: new IpcSharedState(),
  servedBy: `worker-${config.index}`,
  log: config.verbose ? (line) => report({ type: 'log', line }) : undefined,
});
const stop = () => {
  void starting.then((server) => server.close()).finally(() => process.exit(0));
};
// Stopped by the primary. A worker whose primary is gone (IPC disconnect) is ended by node:cluster
// itself, at once, so none outlives it.
process.once('SIGTERM', stop);
// Ctrl-C reaches the whole process group; the primary decides when its workers stop.
process.on('SIGINT', () => {});

const server = await starting;
report({ type: 'listening', baseUrl: server.baseUrl });
