import { EXIT_CODES, UsageError } from '../errors.js';
import { systemClock, type Clock } from '../engine/clock.js';
import { startFaultProxy, type FaultProxy, type FaultRules } from '../proxy/faultProxy.js';
import type { ProxyLogItem } from '../reporters/proxyLog.js';
import { reporterFor } from '../reporters/registry.js';

export interface ProxyOptions {
  /** The target's base URL; clients use the printed URL (same path, the proxy's origin) instead. */
  readonly target: string;
  /** 0 = any free port. */
  readonly port: number;
  readonly rules: FaultRules;
  readonly json: boolean;
  readonly color: boolean;
  readonly clock?: Clock;
}

/**
 * `sse-doctor proxy`: the fault proxy on its own, so a real frontend can be pointed through it
 * during an incident. Prints its URL first, logs every request and what it did to it, and runs
 * until Ctrl-C.
 */
export async function proxy(options: ProxyOptions, io: { stdout: NodeJS.WritableStream; signal?: AbortSignal }): Promise<number> {
  const clock = options.clock ?? systemClock;
  const line = reporterFor('proxy-log', options.json ? 'json' : 'pretty', options);
  const startedAt = clock.now();
  const emit = (item: ProxyLogItem) => io.stdout.write(line(item));
  let requests = 0;
  let streams = 0;
  let server: FaultProxy;
  try {
    server = await startFaultProxy(
      { target: options.target, port: options.port, rules: options.rules, clock },
      {
        onConnection: (connection) => {
          requests++;
          emit({ kind: 'connection', ...connection, t: connection.t - startedAt });
        },
        onConnectionEnd: (end) => {
          if (end.stream) streams++;
          emit({ kind: 'end', ...end, t: end.t - startedAt });
        },
      },
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') throw new UsageError(`--listen: cannot listen on port ${options.port} (${code}); pick another port or 0`, { cause: error });
    throw error;
  }
  emit({ kind: 'listening', url: server.url, target: options.target, rules: options.rules });
  await new Promise<void>((resolve) => {
    if (!io.signal || io.signal.aborted) return resolve();
    io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.close();
  emit({ kind: 'summary', requests, streams, cuts: server.cuts() });
  return EXIT_CODES.ok;
}
