/**
 * The one case waiting for the client's next flow: the runner arms it, and the arena hands it to
 * the first request that starts a run. Aborting the wait empties the slot.
 */
export class CaseSlot<Case, Run> {
  private waiting: { readonly judgeCase: Case; readonly bind: (run: Run) => void } | undefined;

  /** The armed case, if one waits. */
  get judgeCase(): Case | undefined {
    return this.waiting?.judgeCase;
  }

  /** Arms `judgeCase`; resolves with the run it was bound to, or undefined when `signal` aborts first. */
  arm(judgeCase: Case, signal: AbortSignal): Promise<Run | undefined> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(undefined);
      const onAbort = () => {
        this.waiting = undefined;
        resolve(undefined);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting = {
        judgeCase,
        bind: (run) => {
          signal.removeEventListener('abort', onAbort);
          resolve(run);
        },
      };
    });
  }

  /** Starts the armed case's run with `start` and binds it; undefined when no case is armed. */
  take(start: (judgeCase: Case) => Run): Run | undefined {
    const { waiting } = this;
    if (waiting === undefined) return undefined;
    this.waiting = undefined;
    const run = start(waiting.judgeCase);
    waiting.bind(run);
    return run;
  }
}
