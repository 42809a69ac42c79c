import type { ClientChoice } from '../engine/clientPolicy.js';
import type { TargetOptions } from '../engine/target.js';

/** How virtual clients arrive: a fixed population that loops (closed) or a fixed arrival rate (open). */
export type Arrival = { readonly kind: 'closed'; readonly clients: number } | { readonly kind: 'open'; readonly ratePerSecond: number };

/**
 * What one process runs: plain data, so a worker receives it over IPC and a shard computes its
 * share of it. Built and frozen by the `load` options step.
 */
export interface LoadPlan {
  readonly target: TargetOptions;
  /** `streams`: the full flow; `token-spam`: only the token endpoint, as fast as it answers. */
  readonly mode: 'streams' | 'token-spam';
  readonly arrival: Arrival;
  readonly durationMs: number;
  /** Clients start (closed) or the rate grows (open) linearly over this long. */
  readonly rampMs: number;
  /** Bound on requests to the target (create + token + stream); undefined = none. */
  readonly maxRequests: number | undefined;
  /** Existing generation ids to use instead of creating generations. */
  readonly ids: readonly string[] | undefined;
  /** A built-in model, or one measured by `analyze --client-model`. */
  readonly client: ClientChoice;
  /**
   * First three octets (`127.0.1`) of the loopback source addresses this process binds its
   * sockets to, one address per block of clients; undefined lets the system choose.
   */
  readonly sourceNetwork: string | undefined;
}

/**
 * Against a loopback IPv4 target on Linux (where all of 127.0.0.0/8 is local), sockets spread
 * over many source addresses: one source address reaches one server port at most ~28,000
 * times (the ephemeral port range), and a crowded range makes every connect() search longer.
 * `worker` numbers the process, so workers never share an address.
 */
export function loopbackSourceNetwork(target: TargetOptions, worker: number): string | undefined {
  const host = new URL(target.streamUrl ?? target.baseUrl).hostname;
  return process.platform === 'linux' && /^127\.\d+\.\d+\.\d+$/.test(host) ? `127.0.${worker % 256}` : undefined;
}

/**
 * The share of a plan that part `index` of `count` runs (a worker or a shard): clients, rate and
 * request bound are split so the parts add up to the whole exactly.
 */
export function planShare(plan: LoadPlan, index: number, count: number): LoadPlan {
  const split = (total: number) => Math.floor(total / count) + (index < total % count ? 1 : 0);
  return {
    ...plan,
    arrival: plan.arrival.kind === 'closed' ? { kind: 'closed', clients: split(plan.arrival.clients) } : { kind: 'open', ratePerSecond: plan.arrival.ratePerSecond / count },
    maxRequests: plan.maxRequests === undefined ? undefined : split(plan.maxRequests),
  };
}
