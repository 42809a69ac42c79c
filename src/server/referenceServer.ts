import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GenerationStore } from './generations.js';
import { createRequestListener } from './router.js';
import { resolveSettings, type FaultName, type ServerTimings } from './settings.js';
import { LocalSharedState, type SharedState } from './sharedState.js';
import { StreamHub } from './streamHub.js';

export { DEFAULT_TIMINGS, FAULT_NAMES, type FaultName, type ServerTimings } from './settings.js';

/** How to start the reference server. */
export interface ReferenceServerOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Defaults to 127.0.0.1. */
  readonly host?: string;
  /** Misbehaviours to inject; none by default. */
  readonly faults?: readonly FaultName[];
  /** Overrides of `DEFAULT_TIMINGS`. */
  readonly timings?: Partial<ServerTimings>;
  /** Receives one line per finished request; the server never prints by itself. */
  readonly log?: (line: string) => void;
  /** Where generations, tokens and rate limits live; this process's own by default. */
  readonly sharedState?: SharedState;
  /** Sent as `X-Served-By` on every response; none by default. */
  readonly servedBy?: string;
}

/** A running reference server. */
export interface ReferenceServer {
  /** `http://HOST:PORT/api`, the base URL every docs/contract.md path is relative to. */
  readonly baseUrl: string;
  readonly port: number;
  /** Event streams open right now. */
  readonly openStreams: number;
  /** Drops every stream and socket; resolves once the server is closed. */
  close(): Promise<void>;
}

/** Room for the connection bursts of a load run; the kernel's somaxconn may cap it lower. */
const LISTEN_BACKLOG = 4096;
/**
 * Longer than undici's 4 s client keep-alive, so an idle socket is always closed by the client
 * first and a request is never sent into a socket the server is closing.
 */
const KEEP_ALIVE_TIMEOUT_MS = 5000;

/** Starts the reference implementation of docs/contract.md, plus the generic stream, under `/api`. */
export async function startReferenceServer(options: ReferenceServerOptions = {}): Promise<ReferenceServer> {
  const settings = resolveSettings(options.faults ?? [], options.timings ?? {});
  const state = options.sharedState ?? new LocalSharedState(settings.timings);
  const generations = new GenerationStore(settings.timings, state);
  const hub = new StreamHub(settings);
  const context = { settings, generations, state, hub, log: options.log, servedBy: options.servedBy };
  // Streams outlive any request deadline, so the request and headers timeouts are off.
  const server = createServer({ keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, requestTimeout: 0, headersTimeout: 0 }, createRequestListener(context));
  server.timeout = 0;
  server.on('connection', (socket) => {
    // Each event is a small write that must leave now, not wait for Nagle to coalesce it.
    socket.setNoDelay(true);
  });

  const host = options.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: options.port ?? 0, host, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    hub.close();
    generations.close();
    throw error;
  }
  // Once listening, an error is a failed accept (EMFILE under a load run): worth a log line, not a crash.
  server.on('error', (error) => options.log?.(`server error: ${error.message}`));
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    baseUrl: `http://${urlHost}:${port}/api`,
    port,
    get openStreams() {
      return hub.size;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        generations.close();
        hub.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
