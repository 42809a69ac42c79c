import { acceptedRange, type JudgePolicy } from './policy.js';
import type { CaseEnd, JudgedRequest, JudgeFigures } from './types.js';

/** One try of the client: a token request and the stream it opened, or a stream alone (a reused token). */
export interface Attempt {
  readonly first: JudgedRequest;
  readonly stream: JudgedRequest | undefined;
  /** The request of the previous attempt that ended last; undefined for the first attempt. */
  readonly after: JudgedRequest | undefined;
  /** From the end of the previous attempt to this one (ms); 0 for the first. */
  readonly waitMs: number;
}

const endOf = (request: JudgedRequest) => request.endT ?? request.t;
const isTry = (request: JudgedRequest) => request.kind !== 'status';

/** The client's attempts in order. A token request opens one; a stream joins the attempt whose token it follows. */
export function attemptsOf(requests: readonly JudgedRequest[]): Attempt[] {
  const groups: JudgedRequest[][] = [];
  for (const request of requests.filter(isTry)) {
    const current = groups.at(-1);
    const joins = request.kind === 'stream' && current !== undefined && current.length === 1 && current[0]!.kind === 'token';
    if (joins) current.push(request);
    else groups.push([request]);
  }
  return groups.map((group, index) => {
    const previous = groups[index - 1];
    const after = previous?.reduce((last, request) => (endOf(request) > endOf(last) ? request : last));
    return { first: group[0]!, stream: group.find((request) => request.kind === 'stream'), after, waitMs: after ? group[0]!.t - endOf(after) : 0 };
  });
}

/** Token and stream requests that started after `t`. */
export function requestsAfter(requests: readonly JudgedRequest[], t: number): JudgedRequest[] {
  return requests.filter((request) => isTry(request) && request.t > t);
}

/** Each 429, the end of the wait it asked for (Retry-After, or the fallback), and the requests inside it. */
export function retryAfterWindows(requests: readonly JudgedRequest[], policy: JudgePolicy) {
  return requests
    .filter((request) => request.status === 429)
    .map((refusal) => {
      const from = endOf(refusal);
      const untilT = from + (refusal.retryAfterMs ?? policy.rateLimitFallbackMs);
      const edge = from + acceptedRange(untilT - from, 0).minMs;
      return { refusal, untilT, inside: requests.filter((request) => isTry(request) && request.t > from && request.t < edge) };
    });
}

/** The most requests that started within one second of each other. */
function worstPerSecond(requests: readonly JudgedRequest[]): number {
  let worst = 0;
  let start = 0;
  for (let end = 0; end < requests.length; end++) {
    while (requests[end]!.t - requests[start]!.t >= 1000) start++;
    worst = Math.max(worst, end - start + 1);
  }
  return worst;
}

export function figuresOf(requests: readonly JudgedRequest[], ended: CaseEnd, policy: JudgePolicy, scheduled: boolean): JudgeFigures {
  const tries = requests.filter(isTry);
  const attempts = attemptsOf(requests);
  const streams = tries.filter((request) => request.kind === 'stream');
  const reconnects = streams.slice(1);
  const seenBefore = (request: JudgedRequest, index: number) => streams.slice(0, index + 1).some((earlier) => earlier.token === request.token);
  return {
    requests: tries.length,
    retries: Math.max(0, attempts.length - 1),
    delays: attempts.slice(1).map((attempt, index) => ({ seq: attempt.first.seq, ms: attempt.waitMs, expectedMs: scheduled ? policy.delaysMs[index] : undefined })),
    insideRetryAfter: new Set(retryAfterWindows(requests, policy).flatMap((window) => window.inside)).size,
    reconnects: reconnects.length,
    lastEventIdSent: reconnects.filter((request) => request.lastEventId !== undefined).length,
    freshTokens: reconnects.filter((request, index) => request.token !== undefined && !seenBefore(request, index)).length,
    gaveUpAfterMs: ended === 'quiet' && tries.length > 0 ? tries.at(-1)!.t - tries[0]!.t : undefined,
    worstPerSecond: worstPerSecond(tries),
  };
}
