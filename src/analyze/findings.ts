/** The layer a finding's fix belongs to. */
export type Layer = 'frontend' | 'backend';

/** Stable finding ids: reports, CI filters and tickets refer to these. */
export const FINDING_IDS = [
  'retry-storm',
  'retry-after-terminal',
  'inside-429-window',
  'no-backoff',
  'no-jitter',
  'too-many-retries',
  'stream-without-token',
  'two-streams',
  'terminal-stream-200',
  'no-429',
  'terminal-5xx',
] as const;
export type FindingId = (typeof FINDING_IDS)[number];

/** What never changes about a finding: its layer, title, why it hurts and the fix. */
export interface FindingKind {
  readonly layer: Layer;
  readonly title: string;
  readonly why: string;
  readonly fix: string;
}

export const FINDING_KINDS: Readonly<Record<FindingId, FindingKind>> = {
  'retry-storm': {
    layer: 'frontend',
    title: 'retry storm',
    why: 'every short stream or refusal is answered at once by a new token request and stream: one tab becomes a load test on the backend (seed 000: 1000+ requests/s)',
    fix: 'stop on terminal events and on 400/401/403/404/422; back off 2, 4, 8, 16, 32 s between reconnects; give up after 5 retries',
  },
  'retry-after-terminal': {
    layer: 'frontend',
    title: 'retries after a terminal answer',
    why: 'a 400, a 404 or a terminal event means the generation is over: asking again can never succeed and only spends the rate limit',
    fix: 'treat 400/404 on the token endpoint and a terminal event (status failed/completed/cancelled, stage complete/terminal/error/timeout) as final: show the result or the error, never retry',
  },
  'inside-429-window': {
    layer: 'frontend',
    title: 'requests inside a 429 window',
    why: "a 429 asks the client to wait Retry-After seconds (60 s when absent); requests inside that window are refused again and keep the limiter hot",
    fix: 'on 429, wait the Retry-After seconds (60 s without the header) before the next token request',
  },
  'no-backoff': {
    layer: 'frontend',
    title: 'no backoff',
    why: "reconnect intervals stay flat or shorter than the policy's schedule: a backend that struggles gets no room to recover",
    fix: 'wait 2, 4, 8, 16, 32 s (the profile schedule) between reconnects after a dropped stream, resetting after a stream that delivered events',
  },
  'no-jitter': {
    layer: 'frontend',
    title: 'no jitter',
    why: 'clients reconnect after exactly the same delays: after an outage they all come back in the same instant (a thundering herd)',
    fix: 'add random jitter (e.g. ±20%) to every reconnect delay',
  },
  'too-many-retries': {
    layer: 'frontend',
    title: "more retries than the policy's maximum",
    why: 'a client that never gives up keeps a dead generation alive in the logs and the limiter for as long as the tab stays open',
    fix: "stop after the policy's maximum of retries in a row and show a clear message",
  },
  'stream-without-token': {
    layer: 'frontend',
    title: 'stream opened without its token',
    why: 'the stream endpoint is authorised by the single-use query token alone: without it (or with a used one) the answer is 422/401 and the client loops',
    fix: 'open the stream at stream_url with ?token=<sse_token> from a fresh token request, once per connection',
  },
  'two-streams': {
    layer: 'frontend',
    title: 'two streams open at once for one generation',
    why: 'a second EventSource for the same generation doubles the load and the events, and usually means the first one was never closed',
    fix: 'close the previous EventSource before opening a new one (one stream per generation per tab)',
  },
  'terminal-stream-200': {
    layer: 'backend',
    title: 'a 200 stream that closes at once for a terminal generation',
    why: 'a silent 200 that closes without a terminal event tells the client nothing, so it reconnects: the seed 000 bug behind the retry storm',
    fix: 'for a failed/cancelled/completed generation, send one terminal event (status and message) before closing, or refuse the token with 400',
  },
  'no-429': {
    layer: 'backend',
    title: 'the token endpoint never answers 429',
    why: "more token requests than the profile's limit per window for one generation were all served: nothing stops a runaway client",
    fix: 'limit token requests per (user, generation) (10 per 60 s by default) with 429 and a Retry-After header',
  },
  'terminal-5xx': {
    layer: 'backend',
    title: '5xx for a terminal generation',
    why: 'a 5xx reads as a transient server fault, which every client retries; for a generation that is over the answer is a 400 naming its status',
    fix: 'answer 400 with a detail naming the status and the error for failed/cancelled/completed generations',
  },
};
