import type { CheckContext } from '../context.js';
import { seconds, streamEvidence } from '../evidence.js';
import type { RecordedStream } from '../recording.js';
import { fail, pass, skip, type Rule, type RuleOutcome } from '../types.js';

const REFUSED = [401, 403];

/** Opens `url` only as far as the status line: enough to see whether a stream would be served. */
function knock(ctx: CheckContext, url: string): Promise<RecordedStream> {
  return ctx.record({ url, stopOnOpen: true, silenceTimeoutMs: 0, maxDurationMs: ctx.target.headersTimeoutMs + 1000 });
}

/** Judges a stream request that must be refused. */
function mustRefuse(recording: RecordedStream, accepted: readonly number[], what: string, why: string, extra: Record<string, unknown> = {}): RuleOutcome {
  const evidence = { ...streamEvidence(recording), ...extra };
  const status = recording.result.open?.status;
  if (status !== undefined && accepted.includes(status)) return pass(`${what}: answered ${status}`, evidence);
  if (status === 200) {
    return fail(`${what}: the stream was served (200)`, why, `validate the token before streaming and answer ${accepted.join(' or ')} otherwise`, evidence);
  }
  if (status === undefined) return skip(`${what}: the stream endpoint did not answer (${recording.result.end.kind})`, evidence);
  return fail(`${what}: answered ${status}, not ${accepted.join(' or ')}`, 'clients cannot tell a token problem from a server failure, and a 5xx invites retries', `answer ${accepted.join(' or ')}`, evidence);
}

export const streamTokenRequired: Rule = {
  id: 'stream.token-required',
  severity: 'error',
  group: 'stream',
  title: 'the stream refuses a request without a token (422/401)',
  why: 'the stream is authorised by its query token alone (EventSource cannot send headers): without that check anyone can read any stream',
  profiles: ['generations'],
  async run(ctx) {
    const fixture = await ctx.generation('completing');
    if (!fixture.ok) return skip(fixture.reason);
    const recording = await knock(ctx, ctx.api.streamUrlFor(fixture.value.id, undefined));
    return mustRefuse(recording, [422, ...REFUSED], 'a stream request without a token', 'the stream is open to anyone who knows a generation id: the token endpoint protects nothing');
  },
};

export const streamTokenInvalid: Rule = {
  id: 'stream.token-invalid',
  severity: 'error',
  group: 'stream',
  title: 'the stream refuses a made-up token (401)',
  why: 'a stream that accepts a made-up token is open to anyone who can guess a URL',
  profiles: ['generations'],
  async run(ctx) {
    const fixture = await ctx.generation('completing');
    if (!fixture.ok) return skip(fixture.reason);
    const recording = await knock(ctx, ctx.api.streamUrlFor(fixture.value.id, 'sse-doctor-made-up-token'));
    return mustRefuse(recording, REFUSED, 'a stream request with a made-up token', 'any string opens the stream: the token checks nothing');
  },
};

export const streamTokenSingleUse: Rule = {
  id: 'stream.token-single-use',
  severity: 'error',
  group: 'stream',
  title: 'a stream token works once: the second use gets 401',
  why: 'a token that works twice can be replayed from a log, a proxy or browser history',
  profiles: ['generations'],
  async run(ctx) {
    const ticket = await ctx.streamTicket('spare');
    if (!ticket.ok) return skip(ticket.reason);
    const bounds = ctx.followBounds;
    const first = await ctx.record({ url: ticket.value.url, stopWhen: () => true, silenceTimeoutMs: bounds.silenceTimeoutMs, maxDurationMs: bounds.maxDurationMs });
    if (first.result.open?.status !== 200) {
      return skip(`the first use of a fresh token did not open the stream (${first.result.end.kind}): see stream.headers and token.issue`, streamEvidence(first));
    }
    const second = await knock(ctx, ticket.value.url);
    return mustRefuse(
      second,
      REFUSED,
      'the same token used a second time',
      'a token leaked in a log, a proxy or the browser history opens the stream again; single use is what makes query-string tokens acceptable',
      { firstUse: streamEvidence(first) },
    );
  },
};

export const streamTokenExpiry: Rule = {
  id: 'stream.token-expiry',
  severity: 'error',
  group: 'stream',
  title: 'an unused token expires after expires_in seconds (401)',
  why: 'a token that never expires stays a key to the stream long after it leaked',
  slow: true,
  profiles: ['generations'],
  async run(ctx) {
    const ticket = await ctx.streamTicket('spare');
    if (!ticket.ok) return skip(ticket.reason);
    const lifetimeMs = ctx.profile.limits.tokenExpiresSeconds * 1000;
    // A little past the lifetime, so that clock granularity on the server cannot save the token.
    const waitMs = lifetimeMs + Math.max(500, lifetimeMs * 0.1);
    await ctx.clock.sleep(waitMs, ctx.signal);
    const recording = await knock(ctx, ticket.value.url);
    return mustRefuse(
      recording,
      REFUSED,
      `a token used ${seconds(waitMs)} after it was issued (expires_in ${ctx.profile.limits.tokenExpiresSeconds} s)`,
      'a leaked token stays usable forever',
      { waitedMs: Math.round(waitMs) },
    );
  },
};
