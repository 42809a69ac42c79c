import type { Clock } from '../engine/clock.js';
import type { GradedCase } from './cases.js';
import { figuresOf } from './figures.js';
import { caseLimitMs, quietWindowMs, type JudgePolicy } from './policy.js';
import type { CaseEnd, JudgeCaseResult, JudgedRequest, JudgeReport, PageEvidence } from './types.js';

/** A case bound to what the client started for it: a generation, or a call to the upstream. */
export interface CaseRun {
  /** What it is bound to, e.g. the generation id. */
  readonly subject: string;
  /** Clock time of its first request. */
  readonly startedAt: number;
  readonly requests: readonly JudgedRequest[];
  /** Clock time of the last request start or response end. */
  readonly lastActivity: number;
  /** Responses still open, silent ones the judge holds on purpose left out. */
  readonly busy: number;
}

/** Where the client's requests arrive: it binds the armed case to the client's next new subject. */
export interface CaseArena<C extends GradedCase> {
  /** The URL to point the client at. */
  readonly url: string;
  /** The next subject the client starts gets `judgeCase`; resolves with its run once it does (undefined: aborted). */
  arm(judgeCase: C, signal: AbortSignal): Promise<CaseRun | undefined>;
  /** Stops recording the run and drops its open responses. */
  finish(run: CaseRun): void;
}

/** A client judge drives itself (a browser page), opened once per case. */
export interface DrivenClient {
  open(judgeCase: GradedCase): Promise<{ close(): Promise<PageEvidence> }>;
}

export interface JudgeRunOptions<C extends GradedCase> {
  readonly arena: CaseArena<C>;
  readonly cases: readonly C[];
  readonly policy: JudgePolicy;
  readonly clock: Clock;
  /** Clock time at which the whole run stops (`--timeout`). */
  readonly deadline: number;
  readonly signal: AbortSignal;
  readonly client?: DrivenClient;
}

export interface JudgeRunCallbacks<C extends GradedCase> {
  /** The case waits for the client to start a generation. */
  onWaiting?(judgeCase: C, index: number, total: number): void;
  onStarted?(judgeCase: C, subject: string): void;
  onGraded?(result: JudgeCaseResult): void;
}

/** A storming client has proven its case well before this many requests. */
const REQUEST_CAP = 300;
const POLL_MS = 20;

/**
 * Applies each case in turn to the next generation the client starts, waits until the client
 * has gone quiet (or the case's time or request cap is reached), and grades it.
 */
export async function runJudge<C extends GradedCase>(options: JudgeRunOptions<C>, callbacks: JudgeRunCallbacks<C> = {}): Promise<JudgeReport> {
  const { arena, cases, policy, clock } = options;
  const startedAt = clock.now();
  const results: JudgeCaseResult[] = [];
  for (const [index, judgeCase] of cases.entries()) {
    if (options.signal.aborted || clock.now() >= options.deadline) {
      results.push(notRun(judgeCase));
      continue;
    }
    callbacks.onWaiting?.(judgeCase, index, cases.length);
    const waiting = new AbortController();
    const stopWaiting = () => waiting.abort();
    options.signal.addEventListener('abort', stopWaiting, { once: true });
    void clock.sleep(Math.max(0, options.deadline - clock.now()), waiting.signal).then(stopWaiting);
    // Armed before the page opens: its first token request may come before `open` resolves.
    const bound = arena.arm(judgeCase, waiting.signal);
    const session = await options.client?.open(judgeCase);
    const run = await bound;
    options.signal.removeEventListener('abort', stopWaiting);
    stopWaiting();
    if (!run) {
      const page = await session?.close();
      results.push({ ...notRun(judgeCase), page });
      callbacks.onGraded?.(results.at(-1)!);
      continue;
    }
    callbacks.onStarted?.(judgeCase, run.subject);
    const ended = await waitForEnd(judgeCase, run, options);
    // A snapshot before the judge drops what is still open: an open stream is graded as open.
    const requests = run.requests.map((request) => ({ ...request }));
    const durationMs = clock.now() - run.startedAt;
    arena.finish(run);
    const page = await session?.close();
    const result = grade(judgeCase, requests, ended, policy, durationMs, page);
    results.push(result);
    callbacks.onGraded?.(result);
  }
  return {
    url: arena.url,
    timeScale: policy.timeScale,
    policy: { delaysMs: policy.delaysMs, maxRetries: policy.maxRetries, jitter: policy.jitter, silenceMs: policy.silenceMs, rateLimitFallbackMs: policy.rateLimitFallbackMs },
    cases: results,
    durationMs: clock.now() - startedAt,
    interrupted: options.signal.aborted,
  };
}

async function waitForEnd<C extends GradedCase>(judgeCase: C, run: CaseRun, options: JudgeRunOptions<C>): Promise<CaseEnd> {
  const { clock, policy } = options;
  const quietMs = quietWindowMs(policy, judgeCase.longestWaitMs?.(policy) ?? 0);
  const limitMs = caseLimitMs(policy);
  for (;;) {
    const now = clock.now();
    if (options.signal.aborted || now >= options.deadline) return 'deadline';
    if (run.busy === 0 && now - run.lastActivity >= quietMs) return 'quiet';
    if (now - run.startedAt >= limitMs) return 'time-limit';
    if (run.requests.length >= REQUEST_CAP) return 'request-cap';
    await clock.sleep(POLL_MS, options.signal);
  }
}

function grade(judgeCase: GradedCase, requests: readonly JudgedRequest[], ended: CaseEnd, policy: JudgePolicy, durationMs: number, page: PageEvidence | undefined): JudgeCaseResult {
  const checks = judgeCase.grade({ requests, ended }, policy);
  return {
    name: judgeCase.name,
    title: judgeCase.title,
    verdict: checks.every((check) => check.pass) ? 'pass' : 'fail',
    checks,
    figures: figuresOf(requests, ended, policy, judgeCase.scheduled === true),
    requests,
    advice: judgeCase.advice,
    ended,
    durationMs,
    page,
  };
}

function notRun(judgeCase: GradedCase): JudgeCaseResult {
  return { name: judgeCase.name, title: judgeCase.title, verdict: 'not-run', checks: [], figures: undefined, requests: [], advice: judgeCase.advice, ended: undefined, durationMs: 0, page: undefined };
}
