import { acceptedRange, type JudgePolicy } from './policy.js';
import { attemptsOf, requestsAfter, retryAfterWindows } from './figures.js';
import type { CaseEnd, JudgeCaseName, JudgeCheck, JudgedRequest } from './types.js';

/** One event of a scripted stream; `id` events get the generation's next event id. */
export interface ScriptedEvent {
  readonly status: string;
  readonly stage: string;
  readonly progress: number;
  readonly message: string;
  readonly id: boolean;
  readonly type?: string;
}

/** How the judge answers one token or stream request. */
export type Answer =
  | { readonly kind: 'forward' }
  | { readonly kind: 'refuse'; readonly status: number; readonly detail: string; readonly retryAfterSeconds?: number; readonly stops: boolean }
  | { readonly kind: 'stream'; readonly events: readonly ScriptedEvent[]; readonly then: 'end' | 'cut' | 'hold'; readonly label: string };

/** What a case is graded on: its requests and how it ended. */
export interface CaseRecord {
  readonly requests: readonly JudgedRequest[];
  readonly ended: CaseEnd;
}

/** A situation and how the client's behaviour in it is graded: what the runner needs of a case. */
export interface GradedCase {
  readonly name: string;
  readonly title: string;
  /** What the client should do, in the seed's words. */
  readonly advice: string;
  /** Whether the waits between attempts are compared with the policy's schedule in the figures. */
  readonly scheduled?: boolean;
  /** A wait the case itself asks for (a Retry-After) that may outlast the policy's own; the case ends only after it. */
  longestWaitMs?(policy: JudgePolicy): number;
  grade(record: CaseRecord, policy: JudgePolicy): JudgeCheck[];
}

/** A situation for the client's generation: how the judge answers its token and stream requests. */
export interface JudgeCase extends GradedCase {
  readonly name: JudgeCaseName;
  /** The answer to the case's `n`-th token request (1-based). */
  token(n: number, policy: JudgePolicy): Answer;
  /** The answer to the `n`-th stream request that presents a new token (1-based). */
  stream(n: number, policy: JudgePolicy): Answer;
}

const CONNECTED: ScriptedEvent = { status: 'processing', stage: 'connected', progress: 0, message: 'Stream connected', id: false };
const progressAt = (progress: number): ScriptedEvent => ({ status: 'processing', stage: 'generating', progress, message: `Generating (${Math.round(progress * 100)} %)`, id: true });
const FAILED: ScriptedEvent = { status: 'failed', stage: 'terminal', progress: 0.25, message: 'The model returned an error (sse-doctor judge: failed-generation)', id: true, type: 'error' };
const COMPLETED: ScriptedEvent = { status: 'completed', stage: 'complete', progress: 1, message: 'Generation completed', id: true, type: 'complete' };
const FAILED_DETAIL = `Generation has failed. Error: ${FAILED.message}. Cannot stream.`;
const COMPLETED_DETAIL = 'Generation already completed. Streaming not available.';

/** A generation that streams to its end: what every case serves once its situation is over. */
export const NORMAL_STREAM: Answer = { kind: 'stream', events: [CONNECTED, progressAt(0.25), progressAt(0.5), progressAt(0.75), COMPLETED], then: 'end', label: 'streamed to completion' };
const forward: Answer = { kind: 'forward' };
/** Retry-After of the first 429 of `rate-limit`, in policy seconds (scaled, whole seconds on the wire). */
const RATE_LIMIT_RETRY_AFTER_SECONDS = 30;
/** Retry-After is whole seconds on the wire, so a scaled one is rounded, and never below 1. */
export const retryAfterSeconds = (policySeconds: number, policy: JudgePolicy) => Math.max(1, Math.round(policySeconds * policy.timeScale));
/** How many streams `network-cutoff` cuts: one per delay of the schedule, so every delay is measured. */
const cutsOf = (policy: JudgePolicy) => policy.delaysMs.length;

const check = (name: string, pass: boolean, message: string, requests: readonly JudgedRequest[] = []): JudgeCheck => ({ name, pass, message, requests: requests.map((request) => request.seq) });
const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

/** A case whose only rule is that nothing follows the answer that said stop. */
function stopsAfter(signal: string, record: CaseRecord): JudgeCheck {
  const stopped = record.requests.find((request) => request.stopSignal !== undefined);
  if (!stopped) return check(`stops after ${signal}`, false, `the client never reached ${signal}`);
  const after = requestsAfter(record.requests, stopped.endT ?? stopped.t);
  return after.length === 0
    ? check(`stops after ${signal}`, true, `no request after ${signal} (request ${stopped.seq})`)
    : check(`stops after ${signal}`, false, `${after.length} request(s) after ${signal} (request ${stopped.seq})`, [stopped, ...after]);
}

export const JUDGE_CASES: readonly JudgeCase[] = [
  {
    name: 'failed-generation',
    title: 'a failed terminal event, then 400 on the token',
    advice:
      'Seed 000: "NEVER retry when receiving status === "failed" [...] stage === "terminal"": stop on a terminal event and show the error; the token endpoint answers 400 from then on.',
    token: (n) => (n === 1 ? forward : { kind: 'refuse', status: 400, detail: FAILED_DETAIL, stops: true }),
    stream: () => ({ kind: 'stream', events: [CONNECTED, progressAt(0.25), FAILED], then: 'end', label: 'streamed a failed terminal event' }),
    grade: (record) => [stopsAfter('the failed terminal event', record)],
  },
  {
    name: 'completed',
    title: '400 on the token of a completed generation',
    advice: 'Seed 000, Test Case 3: "Token endpoint returns 400 Bad Request. Frontend redirects to results page. No streaming attempted." and "NEVER retry on 400".',
    token: () => ({ kind: 'refuse', status: 400, detail: COMPLETED_DETAIL, stops: true }),
    stream: () => ({ kind: 'refuse', status: 400, detail: COMPLETED_DETAIL, stops: true }),
    grade: (record) => [stopsAfter('the 400', record)],
  },
  {
    name: 'rate-limit',
    title: '429 with Retry-After, then 429 without it',
    longestWaitMs: (policy) => retryAfterSeconds(RATE_LIMIT_RETRY_AFTER_SECONDS, policy) * 1000,
    advice:
      'Seed 000: "Rate limited - DO NOT RETRY for 60 seconds": after a 429 wait the Retry-After seconds (60 s when it is absent) before any new request, and tell the user "Too many requests. Please wait."',
    token: (n, policy) => {
      const detail = 'Too many token requests. Maximum 10 requests per minute. Please wait before retrying.';
      if (n === 1) return { kind: 'refuse', status: 429, detail, retryAfterSeconds: retryAfterSeconds(RATE_LIMIT_RETRY_AFTER_SECONDS, policy), stops: false };
      if (n === 2) return { kind: 'refuse', status: 429, detail, stops: false };
      return forward;
    },
    stream: () => NORMAL_STREAM,
    grade: (record, policy) => {
      const windows = retryAfterWindows(record.requests, policy);
      if (windows.length === 0) return [check('waits out each 429', false, 'the client never reached the 429')];
      return windows.map(({ refusal, untilT, inside }) => {
        const told = refusal.answer.includes('Retry-After') ? `Retry-After ${seconds(untilT - (refusal.endT ?? refusal.t))}` : `no Retry-After, so the ${seconds(policy.rateLimitFallbackMs)} fallback`;
        return inside.length === 0
          ? check(`waits out the 429 of request ${refusal.seq}`, true, `no request inside the window (${told})`)
          : check(`waits out the 429 of request ${refusal.seq}`, false, `${inside.length} request(s) inside the window (${told}), the first ${seconds(inside[0]!.t - (refusal.endT ?? refusal.t))} after the 429`, [refusal, ...inside]);
      });
    },
  },
  {
    name: 'network-cutoff',
    title: 'the connection cut mid-stream, repeatedly',
    scheduled: true,
    advice:
      'Seed 000, Test Case 4: "Frontend retries with exponential backoff (2s, 4s, 8s, 16s, 32s)", "Max 5 retry attempts"; each reconnect sends Last-Event-ID so the stream resumes where it stopped (docs/contract.md).',
    token: () => forward,
    stream: (n, policy) => {
      if (n === 1) return { kind: 'stream', events: [CONNECTED, progressAt(0.1), progressAt(0.2)], then: 'cut', label: 'cut after 3 events' };
      return n <= cutsOf(policy) ? { kind: 'stream', events: [CONNECTED], then: 'cut', label: 'cut after the connected event' } : NORMAL_STREAM;
    },
    grade: (record, policy) => {
      const attempts = attemptsOf(record.requests).slice(1, cutsOf(policy) + 1);
      if (attempts.length === 0) return [check('backs off', false, 'the client never reconnected after the cut')];
      const backoff = attempts.map((attempt, index) => {
        const expected = policy.delaysMs[index] ?? 0;
        const { minMs, maxMs } = acceptedRange(expected, policy.jitter);
        const ok = attempt.waitMs >= minMs && attempt.waitMs <= maxMs;
        return check(
          `retry ${index + 1} waits ${seconds(expected)}`,
          ok,
          `waited ${seconds(attempt.waitMs)} after request ${attempt.after!.seq} ended (accepted ${seconds(minMs)}-${seconds(maxMs)})`,
          ok ? [] : [attempt.after!, attempt.first],
        );
      });
      const reconnects = attempts.map((attempt) => attempt.stream).filter((request): request is JudgedRequest => request !== undefined);
      const without = reconnects.filter((request) => request.lastEventId === undefined);
      const resume =
        without.length === 0
          ? check('sends Last-Event-ID', true, `all ${reconnects.length} reconnect(s) sent Last-Event-ID`)
          : check('sends Last-Event-ID', false, `${without.length} of ${reconnects.length} reconnect(s) sent no Last-Event-ID, so the stream starts over`, without);
      return [...backoff, resume];
    },
  },
  {
    name: 'silence',
    title: 'the stream goes silent past the client\u2019s threshold',
    advice: 'docs/contract.md: "on a dropped connection or 15 s of silence: reconnect with a fresh token and Last-Event-ID": a stream that sends nothing for that long is dead; close it and reconnect.',
    token: () => forward,
    stream: (n) => (n === 1 ? { kind: 'stream', events: [CONNECTED, progressAt(0.1)], then: 'hold', label: 'went silent after 2 events' } : NORMAL_STREAM),
    grade: (record, policy) => {
      const silent = record.requests.find((request) => request.kind === 'stream' && request.answer.startsWith('went silent'));
      if (!silent) return [check('leaves a silent stream', false, 'the client never opened the stream')];
      const { minMs, maxMs } = acceptedRange(policy.silenceMs, policy.jitter);
      const silentFrom = silent.lastEventT ?? silent.t;
      if (silent.endT === undefined) return [check('leaves a silent stream', false, `still on the silent stream when the case ended, ${seconds(record.requests.at(-1)!.t - silentFrom)} later (threshold ${seconds(policy.silenceMs)})`, [silent])];
      const waited = silent.endT - silentFrom;
      const inTime = waited >= minMs && waited <= maxMs;
      const back = requestsAfter(record.requests, silent.endT).find((request) => request.kind !== 'status');
      return [
        check('leaves a silent stream', inTime, `closed it after ${seconds(waited)} of silence (accepted ${seconds(minMs)}-${seconds(maxMs)})`, inTime ? [] : [silent]),
        back ? check('reconnects after the silence', true, `came back with request ${back.seq}`) : check('reconnects after the silence', false, 'never came back after closing the silent stream', [silent]),
      ];
    },
  },
  {
    name: 'immediate-close',
    title: 'a 200 stream that closes with no event (the seed 000 bug)',
    advice:
      'Seed 000: "Max 5 retry attempts" and "Clear error message after max retries": a stream that closes at once with no event is how the seed 000 frontend reached 1000+ requests/second; count it as a failed attempt and give up after the last retry.',
    token: () => forward,
    stream: () => ({ kind: 'stream', events: [], then: 'end', label: 'closed with no event' }),
    grade: (record, policy) => {
      const attempts = attemptsOf(record.requests);
      const retries = Math.max(0, attempts.length - 1);
      const beyond = attempts.slice(policy.maxRetries + 1).map((attempt) => attempt.first);
      if (record.ended !== 'quiet') {
        return [check(`gives up after ${policy.maxRetries} retries`, false, `still retrying when the case ended (${retries} retries, ${record.ended})`, beyond.slice(0, 3))];
      }
      return [
        retries <= policy.maxRetries
          ? check(`gives up after ${policy.maxRetries} retries`, true, `gave up after ${retries} retries`)
          : check(`gives up after ${policy.maxRetries} retries`, false, `${retries} retries, ${retries - policy.maxRetries} more than allowed`, beyond.slice(0, 3)),
      ];
    },
  },
  {
    name: 'token-expiry',
    title: 'a stream token refused with 401',
    advice:
      'Seed 002 and docs/contract.md: a stream token is single use and expires: fetch a fresh one (POST .../stream-token) before every reconnect and never present a refused token again.',
    token: () => forward,
    stream: (n) => (n === 1 ? { kind: 'refuse', status: 401, detail: 'Invalid or expired stream token', stops: false } : NORMAL_STREAM),
    grade: (record) => {
      const streams = record.requests.filter((request) => request.kind === 'stream');
      const refused = streams[0];
      if (!refused) return [check('fetches a fresh token', false, 'the client never opened the stream')];
      const later = streams.slice(1);
      const reused = later.filter((request, index) => request.token === undefined || streams.slice(0, index + 1).some((earlier) => earlier.token === request.token));
      if (later.length === 0) return [check('fetches a fresh token', true, 'did not reconnect after the 401')];
      return [
        reused.length === 0
          ? check('fetches a fresh token', true, `each of ${later.length} reconnect(s) presented a new token`)
          : check('fetches a fresh token', false, `${reused.length} of ${later.length} reconnect(s) presented a token already used or refused`, [refused, ...reused.slice(0, 3)]),
      ];
    },
  },
];

export function judgeCase(name: JudgeCaseName): JudgeCase {
  return JUDGE_CASES.find((candidate) => candidate.name === name) as JudgeCase;
}
