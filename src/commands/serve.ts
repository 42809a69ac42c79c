import { UsageError } from '../errors.js';
import { startReferenceServer, type FaultName, type ServerTimings } from '../server/referenceServer.js';

/** `sse-doctor serve`, normalised. */
export interface ServeOptions {
  readonly port: number;
  readonly host: string;
  readonly faults: readonly FaultName[];
  readonly timings: ServerTimings;
  /** Logs every request to stderr. */
  readonly verbose: boolean;
  /** Processes serving the port: 1 is one plain process; more fork a primary's workers. */
  readonly workers: number;
}

/** Where `serve` writes, and what stops it besides SIGINT/SIGTERM. */
export interface ServeIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly signal?: AbortSignal;
}

/**
 * Runs the reference server until SIGINT, SIGTERM or `io.signal`. The base URL is the first
 * line on stdout, so a script can read it; everything else goes to stderr.
 */
export async function serve(options: ServeOptions, io: ServeIo): Promise<void> {
  const serverOptions = {
    port: options.port,
    host: options.host,
    faults: options.faults,
    timings: options.timings,
    log: options.verbose ? (line: string) => io.stderr.write(`${line}\n`) : undefined,
  };
  // Loaded only for workers, so the one-process server stays exactly what it was.
  const starting =
    options.workers > 1
      ? import('../server/clusterPrimary.js').then(({ startClusterServer }) =>
          startClusterServer({ ...serverOptions, workers: options.workers, notify: (line) => io.stderr.write(`${line}\n`) }),
        )
      : startReferenceServer(serverOptions);
  const server = await starting.catch((error: unknown) => {
    throw listenFailure(error, options) ?? error;
  });
  io.stdout.write(`${server.baseUrl}\n`);
  io.stderr.write(describe(server.baseUrl, options));

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    if (io.signal?.aborted) return stop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    io.signal?.addEventListener('abort', stop, { once: true });
  });
  io.stderr.write('stopping the reference server\n');
  await server.close();
}

/** A port taken or not ours to bind is the user's to change: one line, exit 2, not a stack. */
function listenFailure(error: unknown, options: ServeOptions): UsageError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = error instanceof Error ? error.message : String(error);
  if (code === 'EADDRINUSE') return new UsageError(`port ${options.port} is already in use: ${reason} (choose another with --port, or --port 0 for any free one)`, { cause: error });
  if (code === 'EACCES') return new UsageError(`port ${options.port} may not be bound by this user: ${reason} (choose a port above 1023)`, { cause: error });
  if (code === 'EADDRNOTAVAIL') return new UsageError(`--host ${options.host} is not an address of this machine: ${reason}`, { cause: error });
  return undefined;
}

function describe(baseUrl: string, options: ServeOptions): string {
  const { timings } = options;
  const seconds = (ms: number) => `${ms / 1000}s`;
  return [
    `reference server listening on ${baseUrl}` +
      (options.workers > 1 ? ` (${options.workers} worker processes; X-Served-By names the one that answered)` : ''),
    `faults: ${options.faults.length > 0 ? options.faults.join(', ') : 'none (a correct backend)'}`,
    `timings: generation ${seconds(timings.generationMs)}, heartbeat ${seconds(timings.heartbeatMs)}, ` +
      `stream cap ${seconds(timings.streamMaxMs)}, token ttl ${seconds(timings.tokenTtlMs)}, ` +
      `rate limit ${timings.rateLimit} per ${seconds(timings.rateWindowMs)}`,
    'endpoints (Authorization: Bearer <any name>; the name is the user):',
    `  POST ${baseUrl}/generations/generate  {"prompt": "..."} (a prompt with the word "fail" fails)`,
    `  GET  ${baseUrl}/generations/{id}`,
    `  POST ${baseUrl}/generations/generate/{id}/stream-token`,
    `  GET  ${baseUrl}/generations/generate/{id}/stream?token=...`,
    `  GET  ${baseUrl}/generic/stream?chunks=10&intervalMs=...  (no auth)`,
    'Ctrl-C to stop',
    '',
  ].join('\n');
}
