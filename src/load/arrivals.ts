import type { Clock } from '../engine/clock.js';
import type { RunDeadline } from './budget.js';

/**
 * The closed model: `clients` virtual clients, started linearly over `rampMs`, each running
 * `startClient` (which loops over flows until the run ends). Resolves when every client is done.
 */
export async function closedArrivals(
  clients: number,
  rampMs: number,
  clock: Clock,
  deadline: RunDeadline,
  startClient: (client: number) => Promise<unknown>,
): Promise<void> {
  // The first client always starts, however late: a run never ends without asking the target once (see RunDeadline).
  const start = (client: number): Promise<unknown> | undefined =>
    deadline.signal.aborted || (client > 0 && deadline.over()) ? undefined : startClient(client);
  // Not an async function: the client's own promise is what the run waits on, with no promise
  // in between to adopt it (one more promise, reaction and pair of closures per open stream).
  const closedClient = (client: number): Promise<unknown> | undefined => {
    const startDelay = clients > 1 ? (rampMs * client) / clients : 0;
    return startDelay > 0 ? clock.sleep(startDelay, deadline.signal).then(() => start(client)) : start(client);
  };
  await Promise.all(Array.from({ length: clients }, (_, client) => closedClient(client)));
}

/**
 * The open model: arrival number k comes at `intendedArrivalMs(k)` from the start, whatever the
 * server does, and runs `arrive` once. Arrivals stop at the run's end, or once one finds no room
 * left in the request budget (`arrive` resolves false). Resolves when every arrival is done.
 */
export async function openArrivals(
  ratePerSecond: number,
  rampMs: number,
  clock: Clock,
  deadline: RunDeadline,
  arrive: (arrival: number, intendedStart: number) => Promise<boolean>,
): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  let more = true;
  for (let arrival = 0; more && !deadline.signal.aborted; arrival++) {
    const intendedStart = deadline.startedAt + intendedArrivalMs(arrival, ratePerSecond, rampMs);
    if (intendedStart >= deadline.endsAt) break;
    const wait = intendedStart - clock.now();
    if (wait > 0) await clock.sleep(wait, deadline.signal);
    if (deadline.signal.aborted) break;
    const flow = arrive(arrival, intendedStart);
    inFlight.add(flow);
    void flow.then((started) => {
      inFlight.delete(flow);
      if (!started) more = false;
    });
  }
  await Promise.all(inFlight);
}

/**
 * When the k-th arrival (0-based) of an open model is due, in ms from the start: a rate that
 * grows linearly from 0 to `ratePerSecond` over `rampMs`, then stays. Fixed in advance, so a
 * slow server cannot push the schedule back (no coordinated omission).
 */
export function intendedArrivalMs(k: number, ratePerSecond: number, rampMs: number): number {
  const perMs = ratePerSecond / 1000;
  const arrivalsDuringRamp = (perMs * rampMs) / 2;
  if (k < arrivalsDuringRamp) return Math.sqrt((2 * rampMs * k) / perMs);
  return rampMs + (k - arrivalsDuringRamp) / perMs;
}
