import { fork } from 'node:child_process';
import { UsageError } from '../errors.js';
import { mergeParts } from './merge.js';
import type { LoadPart } from './part.js';
import { loopbackSourceNetwork, planShare, type LoadPlan } from './plan.js';
import type { LoadSnapshot } from './recorder.js';
import { sumSnapshots } from './ticker.js';

/** Below a second, so workers reporting a little late or early never skip a tick. */
const TICK_SPACING_MS = 900;

/** Parent to worker. */
export type ToWorker = { readonly kind: 'run'; readonly plan: LoadPlan } | { readonly kind: 'stop' };
/** Worker to parent. */
export type FromWorker =
  | { readonly kind: 'second'; readonly snapshot: LoadSnapshot }
  | { readonly kind: 'done'; readonly part: LoadPart }
  | { readonly kind: 'failed'; readonly message: string };

/**
 * `--workers N`: forks N processes of the built worker module, each running its share of the
 * plan (against a loopback target, from its own source addresses 127.0.<worker>.x), then
 * merges their parts exactly.
 */
export async function runWorkers(
  plan: LoadPlan,
  workers: number,
  options: { readonly signal?: AbortSignal; readonly onSecond?: (snapshot: LoadSnapshot) => void },
): Promise<LoadPart> {
  const latest: LoadSnapshot[] = [];
  let lastTickAt = -Infinity;
  const children = Array.from({ length: workers }, (_, index) => {
    const share: LoadPlan = { ...planShare(plan, index, workers), sourceNetwork: plan.sourceNetwork && loopbackSourceNetwork(plan.target, index) };
    const child = fork(new URL('./worker.js', import.meta.url), [], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    // A channel that breaks (the worker stopped by the same Ctrl-C) surfaces here as EPIPE; its
    // exit says what it means for the run, so the error itself is not a crash.
    child.on('error', () => {});
    const done = new Promise<LoadPart>((resolve, reject) => {
      child.on('message', (message: FromWorker) => {
        if (message.kind === 'second') {
          latest[index] = message.snapshot;
          // Whichever worker reports first each second drives the ticker, so one busy worker cannot stall it.
          const now = performance.now();
          if (now - lastTickAt >= TICK_SPACING_MS) {
            lastTickAt = now;
            options.onSecond?.(sumSnapshots(latest.filter((s): s is LoadSnapshot => s !== undefined)));
          }
        } else if (message.kind === 'done') resolve(message.part);
        else reject(new UsageError(`load worker ${index + 1}: ${message.message}`));
      });
      child.once('exit', (code) => reject(new UsageError(`load worker ${index + 1} exited (code ${code}) before reporting`)));
    });
    child.send({ kind: 'run', plan: share } satisfies ToWorker);
    return { child, done };
  });
  const stopAll = () => {
    for (const { child } of children) if (child.connected) child.send({ kind: 'stop' } satisfies ToWorker);
  };
  options.signal?.addEventListener('abort', stopAll, { once: true });
  try {
    return mergeParts(await Promise.all(children.map(({ done }) => done)));
  } finally {
    options.signal?.removeEventListener('abort', stopAll);
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill();
  }
}
