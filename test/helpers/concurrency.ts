/**
 * A limiter: `limit(work)` starts `work` once fewer than `atOnce` are running. Spawned CLIs run
 * concurrently to keep suites fast, but a shared 2-core machine running dozens of node processes
 * at once measures its scheduler, not the tool.
 */
export function concurrencyLimit(atOnce: number): <T>(work: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (work) => {
    if (running >= atOnce) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await work();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
