import cluster, { type Worker } from 'node:cluster';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ReferenceServerOptions } from './referenceServer.js';
import { resolveSettings } from './settings.js';
import { LocalSharedState } from './sharedState.js';
import { answerStateRequests } from './sharedStateRpc.js';
import { isWorkerReport, WORKER_CONFIG_ENV, type WorkerConfig } from './workerMessages.js';

/** How to start the reference server as a primary and its workers. */
export interface ClusterServerOptions extends Pick<ReferenceServerOptions, 'port' | 'host' | 'faults' | 'timings' | 'log'> {
  /** Worker processes, all serving the same port (more than one). */
  readonly workers: number;
  /** Receives one line per worker started, lost or replaced; the server never prints by itself. */
  readonly notify: (line: string) => void;
}

/** A running primary and its workers. */
export interface ClusterServer {
  /** `http://HOST:PORT/api`, served by every worker. */
  readonly baseUrl: string;
  /** Stops every worker; resolves once they have all exited. */
  close(): Promise<void>;
}

/** The built worker entry, not the CLI, so a worker starts without loading commander and the rest. */
const WORKER_ENTRY = fileURLToPath(new URL('./clusterWorker.js', import.meta.url));
/** A worker that has not exited this long after SIGTERM is killed. */
const STOP_DEADLINE_MS = 5000;

/**
 * Forks `workers` processes that share one listening socket (cluster's round-robin) and answers
 * their shared-state calls, so together they behave as one server. Resolves once all listen.
 *
 * A worker that dies unexpectedly is logged and replaced: it holds no state of its own (its
 * replicas are rebuilt from the shared records), so only its open streams are lost. A
 * replacement that dies before listening is not replaced again, so a broken worker cannot loop.
 */
export async function startClusterServer(options: ClusterServerOptions): Promise<ClusterServer> {
  const { timings } = resolveSettings(options.faults ?? [], options.timings ?? {});
  const state = new LocalSharedState(timings);
  const host = options.host ?? '127.0.0.1';
  // Bound once here too: a port in use fails now with the listen error, not as workers dying one by one.
  const port = await probePort(host, options.port ?? 0);
  const running = new Set<Worker>();
  let stopping = false;
  cluster.setupPrimary({ exec: WORKER_ENTRY, args: [] });

  const fork = (index: number): Promise<string> => {
    const config: WorkerConfig = {
      index,
      port,
      host,
      faults: options.faults ?? [],
      timings,
      verbose: options.log !== undefined,
    };
    const worker = cluster.fork({ [WORKER_CONFIG_ENV]: JSON.stringify(config) });
    const pid = worker.process.pid;
    running.add(worker);
    answerStateRequests(worker, state);
    return new Promise((resolve, reject) => {
      let listening = false;
      worker.on('message', (message: unknown) => {
        if (!isWorkerReport(message)) return;
        if (message.type === 'log') {
          options.log?.(`worker-${index} ${message.line}`);
          return;
        }
        listening = true;
        options.notify(`worker ${index} pid ${pid} listening`);
        resolve(message.baseUrl);
      });
      worker.once('exit', (code, signal) => {
        running.delete(worker);
        if (stopping) return;
        const how = signal ? `signal ${signal}` : `code ${code}`;
        if (!listening) {
          reject(new Error(`worker ${index} (pid ${pid}) exited with ${how} before listening`));
          return;
        }
        options.notify(`worker ${index} (pid ${pid}) exited unexpectedly with ${how}; starting a replacement`);
        fork(index).catch((error: Error) => options.notify(`${error.message}; not replacing it again`));
      });
    });
  };

  let closing: Promise<void> | undefined;
  const close = () => {
    stopping = true;
    closing ??= Promise.all([...running].map(stopWorker)).then(() => undefined);
    return closing;
  };

  try {
    const [baseUrl] = await Promise.all(Array.from({ length: options.workers }, (_, index) => fork(index + 1)));
    return { baseUrl: baseUrl as string, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Binds `port` (0: any free one) and lets it go, before forking. Workers share one listening
 * socket only while they listen with the same arguments; with an explicit port, a replacement
 * joins its siblings' socket, or binds the same port again if they all died, where `listen(0)`
 * would move to a new one.
 */
async function probePort(host: string, port: number): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(port, host, resolve);
  });
  const { port: bound } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return bound;
}

function stopWorker(worker: Worker): Promise<void> {
  return new Promise((resolve) => {
    if (worker.isDead()) {
      resolve();
      return;
    }
    const deadline = setTimeout(() => worker.process.kill('SIGKILL'), STOP_DEADLINE_MS);
    worker.once('exit', () => {
      clearTimeout(deadline);
      resolve();
    });
    worker.process.kill('SIGTERM');
  });
}
