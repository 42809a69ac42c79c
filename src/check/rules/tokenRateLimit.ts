import type { HttpExchange } from '../../engine/http.js';
import type { Available, CheckContext } from '../context.js';
import { exchangeEvidence, seconds } from '../evidence.js';
import { evaluateRateLimit, type RateLimitVerdict, type TokenAttempt } from '../timing.js';
import { fail, pass, skip, warn, type Rule } from '../types.js';

/** The burst of `limit + 1` token requests (and, with --slow, a probe one window later). */
interface RateProbe {
  readonly generationId: string;
  readonly burst: readonly TokenAttempt[];
  readonly probe: TokenAttempt | undefined;
  readonly verdict: RateLimitVerdict;
  /** The first 429 answer, if any. */
  readonly limited: HttpExchange | undefined;
}

/** Runs once per run, on its own generation, so the burst cannot starve other rules' tokens. */
function rateProbe(ctx: CheckContext): Promise<Available<RateProbe>> {
  return ctx.once('rate-probe', async () => {
    const fixture = await ctx.generation('rate');
    if (!fixture.ok) return fixture;
    const { id } = fixture.value;
    const { tokenRateLimit: limit, tokenRateWindowSeconds } = ctx.profile.limits;
    const windowMs = tokenRateWindowSeconds * 1000;
    const ask = async (): Promise<Available<TokenAttempt & { exchange: HttpExchange }>> => {
      const sentAt = ctx.clock.now();
      const answer = await ctx.api.requestToken(id, { signal: ctx.signal });
      if ('failure' in answer) return { ok: false, reason: ctx.failureReason(`token ${ctx.api.url('token', id)}`, answer.failure) };
      return { ok: true, value: { sentAt, status: answer.exchange.status, exchange: answer.exchange } };
    };
    const burst: TokenAttempt[] = [];
    let limited: HttpExchange | undefined;
    for (let index = 0; index <= limit; index++) {
      const attempt = await ask();
      if (!attempt.ok) return attempt;
      burst.push({ sentAt: attempt.value.sentAt, status: attempt.value.status });
      if (attempt.value.status === 429) {
        limited ??= attempt.value.exchange;
        break;
      }
    }
    let probe: TokenAttempt | undefined;
    if (ctx.slow && limited !== undefined) {
      // Past the window (plus a tenth for clock slack), a sliding or fixed window has reopened.
      await ctx.clock.sleep(windowMs * 1.1, ctx.signal);
      const attempt = await ask();
      if (!attempt.ok) return attempt;
      probe = { sentAt: attempt.value.sentAt, status: attempt.value.status };
    }
    return { ok: true, value: { generationId: id, burst, probe, limited, verdict: evaluateRateLimit(burst, limit, windowMs, probe) } };
  });
}

export const tokenRateLimit: Rule = {
  id: 'token.rate-limit',
  severity: 'error',
  group: 'token',
  title: 'token requests beyond the limit inside the window get 429 with a detail',
  why: 'without a limit per user and generation, one buggy client loop (the seed\'s 1000 requests a second) takes the service down',
  profiles: ['generations'],
  async run(ctx) {
    const probed = await rateProbe(ctx);
    if (!probed.ok) return skip(probed.reason);
    const { verdict, burst, limited, probe } = probed.value;
    const { tokenRateLimit: limit, tokenRateWindowSeconds: windowSeconds } = ctx.profile.limits;
    const evidence = {
      generationId: probed.value.generationId,
      statuses: burst.map((attempt) => attempt.status),
      burstMs: Math.round((burst.at(-1)?.sentAt ?? 0) - (burst[0]?.sentAt ?? 0)),
      limited: limited ? exchangeEvidence(limited) : undefined,
      probeAfterWindow: probe?.status,
    };
    const rule = `${limit} per ${windowSeconds} s`;
    switch (verdict.kind) {
      case 'not-limited':
        return fail(
          `request ${limit + 1} for one generation within ${seconds(verdict.elapsedMs)} was answered ${verdict.status}, not 429`,
          'nothing stops a client stuck in a reconnect loop: the seed\'s frontend sent 1000 token requests per second',
          `count token requests per (user, generation) and answer 429 with a detail past ${rule}, the 400 answers included`,
          evidence,
        );
      case 'too-strict':
        return fail(
          `request ${verdict.index + 1} was already refused with 429, within the contract's ${rule}`,
          'a well-behaved client that reconnects a few times (fresh token each time) is locked out of its own stream',
          `allow ${limit} token requests per ${windowSeconds} s per (user, generation), or set profile.limits.tokenRateLimit`,
          evidence,
        );
      case 'window-too-long':
        return fail(
          `a token request ${seconds(verdict.probeAfterMs)} after the burst, past the ${windowSeconds} s window, was still refused`,
          'clients that waited as told stay locked out',
          `let the window expire after ${windowSeconds} s (or set profile.limits.tokenRateWindowSeconds)`,
          evidence,
        );
      case 'inconclusive':
        return skip(`the ${limit + 1} token requests took ${seconds(verdict.elapsedMs)}, longer than the ${windowSeconds} s window: the limit could not be tested`, evidence);
      case 'limited': {
        const detail = (limited?.json as { detail?: unknown } | undefined)?.detail;
        if (typeof detail !== 'string' || detail === '') {
          return fail(
            'the 429 answer has no JSON "detail"',
            'the frontend cannot tell the user why streaming stopped',
            'answer 429 with {"detail": "Too many token requests. Maximum N per minute. Please wait before retrying."}',
            evidence,
          );
        }
        const reopened = verdict.reopened ? '; a request after the window was served again' : '';
        return pass(`request ${limit + 1} within ${seconds(verdict.elapsedMs)} got 429 (${rule})${reopened}`, evidence);
      }
    }
  },
};

export const tokenRetryAfter: Rule = {
  id: 'token.retry-after',
  severity: 'warn',
  group: 'token',
  title: 'a 429 from the token endpoint carries Retry-After (seconds)',
  why: 'Retry-After tells a client exactly how long to wait; without it the client guesses (the policy falls back to 60 s)',
  profiles: ['generations'],
  async run(ctx) {
    const probed = await rateProbe(ctx);
    if (!probed.ok) return skip(probed.reason);
    const { limited } = probed.value;
    if (limited === undefined) return skip('no 429 was observed (see token.rate-limit)');
    const evidence = { retryAfter: limited.headers['retry-after'], ...exchangeEvidence(limited) };
    const windowSeconds = ctx.profile.limits.tokenRateWindowSeconds;
    if (limited.retryAfterSeconds === undefined) {
      return warn(
        `the 429 has no Retry-After header: clients fall back to ${ctx.profile.client.rateLimitFallbackSeconds} s or, worse, retry at once`,
        'send Retry-After with the seconds until the window frees a slot',
        evidence,
      );
    }
    if (limited.retryAfterSeconds > Math.ceil(windowSeconds)) {
      return warn(`Retry-After is ${limited.retryAfterSeconds} s, longer than the ${windowSeconds} s window: clients wait longer than needed`, 'send the seconds until the window frees a slot', evidence);
    }
    return pass(`Retry-After: ${limited.retryAfterSeconds} s`, evidence);
  },
};
