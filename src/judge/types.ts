export const JUDGE_CASE_NAMES = ['failed-generation', 'completed', 'rate-limit', 'network-cutoff', 'silence', 'immediate-close', 'token-expiry'] as const;
export type JudgeCaseName = (typeof JUDGE_CASE_NAMES)[number];

/** `call`: a request to the upstream LLM API (`judge --upstream`). */
export type JudgedRequestKind = 'token' | 'stream' | 'status' | 'call';

/** One request of the client, as the judge saw and answered it. Times are ms since the case began. */
export interface JudgedRequest {
  /** 1 for the case's first request. */
  readonly seq: number;
  readonly kind: JudgedRequestKind;
  readonly method: string;
  /** Path and query, the token shortened. */
  readonly path: string;
  readonly t: number;
  /** When the response ended or the client left; undefined while it is open. */
  endT: number | undefined;
  status: number | undefined;
  /** Which stream token it presented: 1 for the first distinct token of the case. */
  readonly token: number | undefined;
  /** The `Last-Event-ID` header or `lastEventId` query parameter it sent. */
  readonly lastEventId: string | undefined;
  /** What the judge did with it, e.g. "forwarded", "429 with Retry-After: 2", "cut after 2 events". */
  readonly answer: string;
  /** Events the judge sent on it (streams). */
  events: number;
  /** When the judge sent the last of them (ms since the case began). */
  lastEventT: number | undefined;
  /** The wait a 429 asked for (its Retry-After), when it sent one. */
  retryAfterMs: number | undefined;
  /** Set when its answer told the client to stop: a terminal event or a 4xx refusal. */
  stopSignal: string | undefined;
}

/** One graded rule of a case. */
export interface JudgeCheck {
  readonly name: string;
  readonly pass: boolean;
  /** What was measured, in one sentence. */
  readonly message: string;
  /** The requests that show it (`seq`s), quoted under a failure. */
  readonly requests: readonly number[];
}

/** The figures the issue asks for, per case. */
export interface JudgeFigures {
  readonly requests: number;
  readonly retries: number;
  /** Each wait between the end of an attempt and the next one, with what the policy expects where the case knows it. */
  readonly delays: readonly { readonly seq: number; readonly ms: number; readonly expectedMs: number | undefined }[];
  readonly insideRetryAfter: number;
  readonly reconnects: number;
  readonly lastEventIdSent: number;
  readonly freshTokens: number;
  /** From the first request to the last one, when the client went quiet; undefined when it never did. */
  readonly gaveUpAfterMs: number | undefined;
  readonly worstPerSecond: number;
}

/** Browser evidence of one case, when judge drove the page. */
export interface PageEvidence {
  readonly consoleErrors: readonly string[];
  readonly network: readonly string[];
}

export type CaseEnd = 'quiet' | 'time-limit' | 'request-cap' | 'deadline';

export interface JudgeCaseResult {
  readonly name: string;
  readonly title: string;
  /** 'not-run': the client never started a generation for it. */
  readonly verdict: 'pass' | 'fail' | 'not-run';
  readonly checks: readonly JudgeCheck[];
  readonly figures: JudgeFigures | undefined;
  readonly requests: readonly JudgedRequest[];
  /** What the client should do instead, in the seed's words; shown under a failure. */
  readonly advice: string;
  readonly ended: CaseEnd | undefined;
  readonly durationMs: number;
  readonly page: PageEvidence | undefined;
}

export interface JudgeReport {
  readonly url: string;
  readonly timeScale: number;
  readonly policy: { readonly delaysMs: readonly number[]; readonly maxRetries: number; readonly jitter: number; readonly silenceMs: number; readonly rateLimitFallbackMs: number };
  readonly cases: readonly JudgeCaseResult[];
  readonly durationMs: number;
  /** Ctrl-C stopped the run: the cases it did not reach are not run, and the report is not a pass. */
  readonly interrupted: boolean;
}
