import type { Clock } from './clock.js';
import type { ApiFailure, GenerationState, GenerationsApi } from './generationsApi.js';

/** How a wait for a generation's status ended. */
export type StatusWait =
  | { readonly reached: true; readonly state: GenerationState }
  /** `deadline`: the clock passed the deadline first; `aborted`: the signal fired. `last` is the last status seen. */
  | { readonly reached: false; readonly why: 'deadline' | 'aborted'; readonly last: GenerationState | undefined }
  /** The status endpoint failed to answer usefully: the caller maps it (`answerError`, a skip reason…). */
  | { readonly reached: false; readonly why: 'answer'; readonly answer: ApiFailure; readonly last: GenerationState | undefined };

/** The first pause between polls; each pause doubles up to `MAX_POLL_MS`. */
const FIRST_POLL_MS = 50;
const MAX_POLL_MS = 500;

/**
 * The one status poller: asks the status endpoint until the generation's status is one of
 * `statuses`, the clock reaches `deadline` (on its scale), the signal aborts, or an answer fails.
 * Polls after 50, 100, 200, 400 ms, then every 500 ms; never sleeps past the deadline.
 */
export async function waitForStatus(
  api: Pick<GenerationsApi, 'status'>,
  id: string,
  statuses: readonly string[],
  options: { readonly clock: Clock; readonly signal?: AbortSignal; readonly deadline: number },
): Promise<StatusWait> {
  const { clock, signal, deadline } = options;
  let last: GenerationState | undefined;
  let pauseMs = FIRST_POLL_MS;
  for (;;) {
    const answer = await api.status(id, signal);
    if (signal?.aborted) return { reached: false, why: 'aborted', last };
    if (!answer.ok) return { reached: false, why: 'answer', answer, last };
    last = answer.state;
    if (statuses.includes(last.status)) return { reached: true, state: last };
    const left = deadline - clock.now();
    if (left <= 0) return { reached: false, why: 'deadline', last };
    await clock.sleep(Math.min(pauseMs, left), signal);
    pauseMs = Math.min(MAX_POLL_MS, pauseMs * 2);
  }
}
