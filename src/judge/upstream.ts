import { CaseSlot } from './caseSlot.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../engine/clock.js';
import type { ProfileClient } from '../engine/target.js';
import { retryAfterSeconds, type CaseRecord, type GradedCase } from './cases.js';
import { attemptsOf, requestsAfter, retryAfterWindows } from './figures.js';
import { acceptedRange, type JudgePolicy } from './policy.js';
import type { CaseArena, CaseRun } from './runner.js';
import type { JudgeCheck, JudgedRequest } from './types.js';

export type UpstreamKind = 'openai' | 'ollama';

/**
 * Seed 004's rate limiter for calls to an upstream LLM API: "Exponential backoff strategy
 * (1s → 2s → 4s → 8s → 16s → 32s → 60s max)", "Max retry limit (default: 5 attempts)".
 */
const SEED_004 = { initialDelaySeconds: 1, maxDelaySeconds: 60, maxRetries: 5 } as const;

/** The upstream caller's policy: seed 004's schedule, the profile's jitter, scaled by `--time-scale`. */
export function upstreamPolicy(client: ProfileClient, timeScale: number): JudgePolicy {
  const ms = (seconds: number) => seconds * 1000 * timeScale;
  const delays = Array.from({ length: SEED_004.maxRetries }, (_, retry) => ms(Math.min(SEED_004.initialDelaySeconds * 2 ** retry, SEED_004.maxDelaySeconds)));
  return Object.freeze({
    delaysMs: Object.freeze(delays),
    maxRetries: SEED_004.maxRetries,
    jitter: client.jitter,
    silenceMs: ms(client.silenceSeconds),
    rateLimitFallbackMs: delays[0] ?? 0,
    stopStatuses: Object.freeze([400, 401, 403, 404, 422]),
    timeScale,
  });
}

/** How the upstream answers one call. */
type UpstreamAnswer =
  | { readonly kind: 'complete'; readonly firstChunkAfterMs: number }
  | { readonly kind: 'cut' }
  | { readonly kind: 'refuse'; readonly status: number; readonly message: string; readonly retryAfterSeconds?: number };

export interface UpstreamCase extends GradedCase {
  /** Calls the test harness makes at once for this case (its users waiting together). */
  readonly users: number;
  /** The answer to the case's `n`-th call (1-based) arriving `sinceStartMs` after its first. */
  answer(n: number, sinceStartMs: number, policy: JudgePolicy): UpstreamAnswer;
}

const ADVICE =
  'Seed 004: "Exponential backoff strategy (1s → 2s → 4s → 8s → 16s → 32s → 60s max)", "Max retry limit (default: 5 attempts)"; honour Retry-After; never retry a 400; "Exponential backoff prevents thundering herd problem".';
const OK: UpstreamAnswer = { kind: 'complete', firstChunkAfterMs: 0 };
const RATE_LIMITED = 'Rate limit reached for requests (sse-doctor judge)';
const RETRY_AFTER_SECONDS = 10;
const MANY_USERS = 5;
/** How slow the first token of `slow-first-token` is, in policy seconds. */
const SLOW_FIRST_TOKEN_SECONDS = 10;

const check = (name: string, pass: boolean, message: string, requests: readonly JudgedRequest[] = []): JudgeCheck => ({ name, pass, message, requests: requests.map((request) => request.seq) });
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const retryAfterOf = (policy: JudgePolicy) => retryAfterSeconds(RETRY_AFTER_SECONDS, policy);
const retryAfterWaitMs = (policy: JudgePolicy) => retryAfterOf(policy) * 1000;

/** The first retry waits at least the initial delay: a retry at once is the death loop seed 004 set out to stop. */
function retriesAfterBackoff(record: CaseRecord, policy: JudgePolicy, after: string): JudgeCheck[] {
  const retry = attemptsOf(record.requests)[1];
  if (!retry) return [check('retries', false, `never retried after ${after}`, record.requests.slice(0, 1))];
  const { minMs } = acceptedRange(policy.delaysMs[0] ?? 0, policy.jitter);
  return [
    retry.waitMs >= minMs
      ? check('backs off before retrying', true, `retried ${seconds(retry.waitMs)} after ${after}`)
      : check('backs off before retrying', false, `retried ${seconds(retry.waitMs)} after ${after}, before the initial delay of ${seconds(policy.delaysMs[0] ?? 0)}`, [retry.after!, retry.first]),
  ];
}

export const UPSTREAM_CASES: readonly UpstreamCase[] = [
  {
    name: 'rate-limit-backoff',
    title: '429 without Retry-After on every call',
    advice: ADVICE,
    users: 1,
    scheduled: true,
    answer: () => ({ kind: 'refuse', status: 429, message: RATE_LIMITED }),
    grade: (record, policy) => {
      const attempts = attemptsOf(record.requests);
      const retries = attempts.slice(1);
      const waits = retries.slice(0, policy.maxRetries).map((attempt, index) => {
        const expected = policy.delaysMs[index] ?? 0;
        const { minMs, maxMs } = acceptedRange(expected, policy.jitter);
        const ok = attempt.waitMs >= minMs && attempt.waitMs <= maxMs;
        return check(`retry ${index + 1} waits ${seconds(expected)}`, ok, `waited ${seconds(attempt.waitMs)} (accepted ${seconds(minMs)}-${seconds(maxMs)})`, ok ? [] : [attempt.after!, attempt.first]);
      });
      const capped = record.ended === 'quiet' && retries.length <= policy.maxRetries;
      return [
        ...waits,
        capped
          ? check(`gives up after ${policy.maxRetries} retries`, true, `gave up after ${retries.length} retries`)
          : check(`gives up after ${policy.maxRetries} retries`, false, `${retries.length} retries${record.ended === 'quiet' ? '' : `, still retrying when the case ended (${record.ended})`}`, retries.slice(policy.maxRetries, policy.maxRetries + 3).map((attempt) => attempt.first)),
      ];
    },
  },
  {
    name: 'retry-after',
    title: '429 with Retry-After, then success',
    longestWaitMs: retryAfterWaitMs,
    advice: ADVICE,
    users: 1,
    answer: (n, _since, policy) => (n === 1 ? { kind: 'refuse', status: 429, message: RATE_LIMITED, retryAfterSeconds: retryAfterOf(policy) } : OK),
    grade: (record, policy) => {
      const [window] = retryAfterWindows(record.requests, policy);
      if (!window) return [check('honours Retry-After', false, 'never called')];
      const back = requestsAfter(record.requests, window.refusal.endT ?? window.refusal.t)[0];
      return [
        window.inside.length === 0
          ? check('honours Retry-After', true, back ? `came back ${seconds(back.t - (window.refusal.endT ?? 0))} after the 429 (Retry-After ${retryAfterOf(policy)} s)` : 'never came back (allowed)')
          : check('honours Retry-After', false, `${window.inside.length} call(s) inside the Retry-After window of ${retryAfterOf(policy)} s`, [window.refusal, ...window.inside.slice(0, 3)]),
      ];
    },
  },
  {
    name: 'server-error',
    title: '503, then success',
    advice: ADVICE,
    users: 1,
    answer: (n) => (n === 1 ? { kind: 'refuse', status: 503, message: 'The server is overloaded (sse-doctor judge)' } : OK),
    grade: (record, policy) => retriesAfterBackoff(record, policy, 'the 503'),
  },
  {
    name: 'bad-request',
    title: '400 on the call',
    advice: ADVICE,
    users: 1,
    answer: () => ({ kind: 'refuse', status: 400, message: 'Invalid request (sse-doctor judge)' }),
    grade: (record) => {
      const extra = record.requests.slice(1);
      return [extra.length === 0 ? check('no retry on 400', true, 'called once') : check('no retry on 400', false, `${extra.length} more call(s) after the 400`, [record.requests[0]!, ...extra.slice(0, 3)])];
    },
  },
  {
    name: 'slow-first-token',
    title: 'the first token comes late',
    advice: `${ADVICE} A slow first token is not a failure: wait for it rather than send the call again.`,
    users: 1,
    answer: (n, _since, policy) => (n === 1 ? { kind: 'complete', firstChunkAfterMs: SLOW_FIRST_TOKEN_SECONDS * 1000 * policy.timeScale } : OK),
    grade: (record) => {
      const first = record.requests[0]!;
      const duplicates = record.requests.slice(1).filter((request) => first.endT === undefined || request.t < first.endT);
      return [
        duplicates.length === 0
          ? check('waits for a slow first token', true, `one call, answered after ${seconds((first.endT ?? first.t) - first.t)}`)
          : check('waits for a slow first token', false, `${duplicates.length} more call(s) while the first was still streaming`, [first, ...duplicates.slice(0, 3)]),
      ];
    },
  },
  {
    name: 'mid-stream-cut',
    title: 'the stream cut after two chunks',
    advice: ADVICE,
    users: 1,
    answer: (n) => (n === 1 ? { kind: 'cut' } : OK),
    grade: (record, policy) => retriesAfterBackoff(record, policy, 'the cut'),
  },
  {
    name: 'many-users',
    title: 'five users wait on a 429 with Retry-After together',
    longestWaitMs: retryAfterWaitMs,
    advice: `${ADVICE} Every waiting user must honour the wait: a queue or a shared limiter, not one retry loop per user.`,
    users: MANY_USERS,
    answer: (_n, sinceStartMs, policy) =>
      sinceStartMs < retryAfterOf(policy) * 1000 ? { kind: 'refuse', status: 429, message: RATE_LIMITED, retryAfterSeconds: retryAfterOf(policy) } : OK,
    grade: (record, policy) => {
      const windowEnd = retryAfterWaitMs(policy);
      // Each user's first call lands inside the window; any call beyond one per user is a retry that did not wait.
      const retriesInside = record.requests.filter((request) => request.t < acceptedRange(windowEnd, 0).minMs).slice(MANY_USERS);
      return [
        retriesInside.length === 0
          ? check('no storm while users wait', true, `${record.requests.length} calls from ${MANY_USERS} users, none retried inside the ${retryAfterOf(policy)} s Retry-After window`)
          : check('no storm while users wait', false, `${retriesInside.length} retries inside the ${retryAfterOf(policy)} s Retry-After window from ${MANY_USERS} users`, retriesInside),
      ];
    },
  },
];


export interface UpstreamArena extends CaseArena<UpstreamCase> {
  readonly port: number;
  close(): Promise<void>;
}

interface LiveCall extends CaseRun {
  readonly judgeCase: UpstreamCase;
  requests: JudgedRequest[];
  lastActivity: number;
  busy: number;
  calls: number;
  readonly open: Set<ServerResponse>;
  finished: boolean;
}

const CHUNKS = ['Rate ', 'limits ', 'are ', 'a ', 'promise.'];
const CHUNK_GAP_MS = 10;

/**
 * A scripted upstream LLM API: OpenAI's `POST /v1/chat/completions` (SSE chunks, `[DONE]`) or
 * Ollama's `POST /api/chat` (NDJSON). The armed case takes the next call; its answers follow the
 * case's script. `GET /__judge/next` tells a test harness which case waits and how many users to send.
 */
export async function startUpstreamArena(options: { kind: UpstreamKind; port: number; policy: JudgePolicy; clock: Clock }): Promise<UpstreamArena> {
  const { kind, policy, clock } = options;
  const chatPath = kind === 'openai' ? '/v1/chat/completions' : '/api/chat';
  const slot = new CaseSlot<UpstreamCase, LiveCall>();
  let current: LiveCall | undefined;
  let runs = 0;

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://upstream').pathname;
    if (req.method === 'GET' && path === '/__judge/next') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ case: slot.judgeCase?.name ?? null, users: slot.judgeCase?.users ?? 0 }));
      return;
    }
    if (req.method !== 'POST' || path !== chatPath) {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify(errorBody(kind, `no route ${path} (sse-doctor judge --upstream ${kind} answers POST ${chatPath})`)));
      return;
    }
    if (!current || current.finished) {
      current = slot.take((judgeCase) => ({ judgeCase, subject: `call ${++runs}`, startedAt: clock.now(), requests: [], lastActivity: clock.now(), busy: 0, calls: 0, open: new Set(), finished: false })) ?? current;
    }
    const run = current && !current.finished ? current : undefined;
    const now = clock.now();
    const answer = run ? run.judgeCase.answer(++run.calls, now - run.startedAt, policy) : OK;
    if (run) record(run, req, res, answer, now);
    req.resume();
    req.on('end', () => respond(kind, answer, res));
  });

  const record = (run: LiveCall, req: IncomingMessage, res: ServerResponse, answer: UpstreamAnswer, now: number) => {
    const request: JudgedRequest = {
      seq: run.requests.length + 1,
      kind: 'call',
      method: req.method ?? 'POST',
      path: chatPath,
      t: now - run.startedAt,
      endT: undefined,
      status: undefined,
      token: undefined,
      lastEventId: undefined,
      answer: answer.kind === 'refuse' ? `${answer.status}${answer.retryAfterSeconds === undefined ? '' : ` with Retry-After: ${answer.retryAfterSeconds}`}` : answer.kind === 'cut' ? 'cut after 2 chunks' : answer.firstChunkAfterMs > 0 ? `first token after ${seconds(answer.firstChunkAfterMs)}` : 'streamed',
      events: 0,
      lastEventT: undefined,
      retryAfterMs: answer.kind === 'refuse' && answer.retryAfterSeconds !== undefined ? answer.retryAfterSeconds * 1000 : undefined,
      stopSignal: answer.kind === 'refuse' && answer.status === 400 ? '400' : undefined,
    };
    run.requests.push(request);
    run.lastActivity = now;
    run.busy++;
    run.open.add(res);
    res.on('close', () => {
      run.busy--;
      run.open.delete(res);
      run.lastActivity = clock.now();
      request.endT = clock.now() - run.startedAt;
      request.status = res.statusCode;
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    arm: (judgeCase, signal) => slot.arm(judgeCase, signal),
    finish: (run) => {
      if (run !== current || !current) return;
      current.finished = true;
      for (const res of current.open) res.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function errorBody(kind: UpstreamKind, message: string): unknown {
  return kind === 'openai' ? { error: { message, type: 'invalid_request_error', code: null } } : { error: message };
}

function respond(kind: UpstreamKind, answer: UpstreamAnswer, res: ServerResponse): void {
  if (answer.kind === 'refuse') {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (answer.retryAfterSeconds !== undefined) headers['Retry-After'] = String(answer.retryAfterSeconds);
    res.writeHead(answer.status, headers).end(JSON.stringify(errorBody(kind, answer.message)));
    return;
  }
  res.writeHead(200, { 'Content-Type': kind === 'openai' ? 'text/event-stream' : 'application/x-ndjson', 'Cache-Control': 'no-cache' });
  res.flushHeaders();
  const chunks = answer.kind === 'cut' ? CHUNKS.slice(0, 2) : CHUNKS;
  const created = Math.floor(Date.now() / 1000);
  const line = (content: string, done: boolean) =>
    kind === 'openai'
      ? `data: ${JSON.stringify({ id: 'chatcmpl-judge', object: 'chat.completion.chunk', created, model: 'judge', choices: [{ index: 0, delta: done ? {} : { content }, finish_reason: done ? 'stop' : null }] })}\n\n`
      : `${JSON.stringify({ model: 'judge', created_at: new Date().toISOString(), message: { role: 'assistant', content }, done })}\n`;
  let index = 0;
  const next = () => {
    if (res.destroyed) return;
    const chunk = chunks[index++];
    if (chunk !== undefined) {
      res.write(line(chunk, false));
      timer = setTimeout(next, CHUNK_GAP_MS);
      return;
    }
    if (answer.kind === 'cut') {
      res.socket?.destroy();
      return;
    }
    res.end(kind === 'openai' ? `${line('', true)}data: [DONE]\n\n` : line('', true));
  };
  let timer = setTimeout(next, answer.kind === 'complete' ? answer.firstChunkAfterMs : 0);
  res.on('close', () => clearTimeout(timer));
}
