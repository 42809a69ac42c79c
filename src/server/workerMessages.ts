import type { FaultName, ServerTimings } from './settings.js';

/** The environment variable that hands a worker its configuration (JSON), readable before any IPC message. */
export const WORKER_CONFIG_ENV = 'SSE_DOCTOR_SERVE_WORKER';

/** What a worker of `serve --workers N` serves. */
export interface WorkerConfig {
  /** 1..N, as in `X-Served-By: worker-<index>`. */
  readonly index: number;
  readonly port: number;
  readonly host: string;
  readonly faults: readonly FaultName[];
  readonly timings: ServerTimings;
  /** Whether to send a `log` message per finished request. */
  readonly verbose: boolean;
}

/** A worker's reports to its primary, besides shared-state calls. */
export type WorkerReport =
  | { readonly type: 'listening'; readonly baseUrl: string }
  | { readonly type: 'log'; readonly line: string };

export function isWorkerReport(message: unknown): message is WorkerReport {
  const type = (message as WorkerReport | null)?.type;
  return type === 'listening' || type === 'log';
}
