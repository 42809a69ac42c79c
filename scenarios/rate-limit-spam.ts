import { expectation, type Scenario } from '../src/replay/scenario.js';
import { metricsOf } from '../src/replay/metrics.js';

/**
 * Seed 000's second fix: token requests for one generation at a steady rate. The server must
 * answer the (limit+1)th inside the window with 429 (and Retry-After). The client model decides
 * what happens after a 429: the naive one keeps going, the robust one waits Retry-After.
 */
const rateLimitSpam: Scenario = {
  name: 'rate-limit-spam',
  description: 'N token requests at a set rate for one generation: where the first 429 comes, Retry-After, recovery (--slow)',
  defaultClients: ['robust', 'naive'],
  async run(ctx, client) {
    const { limits } = ctx.profile;
    const { requests, ratePerSecond, slow } = ctx.settings;
    const model = ctx.clientModel(client);
    const id = await ctx.createGeneration('completing');
    const intervalMs = 1000 / ratePerSecond;
    const deadline = ctx.clock.now() + ctx.maxDurationMs;
    const statuses: number[] = [];
    const responses: Record<string, number> = {};
    let retryAfterSeconds: number | undefined;
    let clientStopped = '';
    const startedAt = ctx.clock.now();

    for (let sent = 0; sent < Math.min(requests, ctx.settings.maxRequests); sent++) {
      if (ctx.signal.aborted || ctx.clock.now() >= deadline) break;
      if (sent > 0) await ctx.clock.sleep(intervalMs, ctx.signal);
      if (ctx.signal.aborted) break;
      const result = await ctx.api.requestToken(id, { signal: ctx.signal });
      if (!('exchange' in result)) break;
      const { status } = result.exchange;
      statuses.push(status);
      responses[status] = (responses[status] ?? 0) + 1;
      if (status !== 429) continue;
      retryAfterSeconds ??= result.exchange.retryAfterSeconds;
      const decision = model.decide({ kind: 'token-refused', status, retryAfterSeconds: result.exchange.retryAfterSeconds });
      // A client that stops, or waits longer than the spam's pace, has stopped spamming.
      if (decision.action === 'stop' || decision.delayMs > intervalMs) {
        clientStopped = decision.reason;
        break;
      }
    }

    const first429 = statuses.indexOf(429) + 1;
    const expectedFirst = limits.tokenRateLimit + 1;
    const after429 = first429 > 0 ? statuses.slice(first429) : [];
    let recovered: number | undefined;
    if (slow && first429 > 0 && !ctx.signal.aborted) {
      // Wait out the rest of the window (Retry-After when given) and ask once more.
      const windowMs = (retryAfterSeconds ?? limits.tokenRateWindowSeconds) * 1000;
      await ctx.clock.sleep(Math.min(windowMs, Math.max(0, deadline - ctx.clock.now())), ctx.signal);
      const again = await ctx.api.requestToken(id, { signal: ctx.signal });
      if ('exchange' in again) {
        recovered = again.exchange.status;
        statuses.push(recovered);
        responses[recovered] = (responses[recovered] ?? 0) + 1;
      }
    }
    const metrics = metricsOf({
      retries: 0,
      tokenRequests: statuses.length,
      responses,
      streams: [],
      duplicates: 0,
      missing: 0,
      startedAt,
      endedAt: ctx.clock.now(),
      terminalAt: undefined,
    });
    const serverErrors = statuses.filter((status) => status >= 500).length;

    const expectations = [
      expectation(
        'first 429 at the limit',
        `request ${expectedFirst} (limit ${limits.tokenRateLimit} per ${limits.tokenRateWindowSeconds} s) answered 429`,
        first429 === 0 ? `no 429 in ${statuses.length} requests` : `first 429 at request ${first429}`,
        first429 === expectedFirst,
      ),
      expectation('no server errors', 'no 5xx (a 5xx invites a retry)', `${serverErrors} 5xx`, serverErrors === 0),
    ];
    if (after429.length > 0) {
      const refused = after429.filter((status) => status === 429).length;
      expectations.push(expectation('stays limited inside the window', 'every request after the first 429 answered 429', `${refused}/${after429.length} answered 429`, refused === after429.length));
    }
    if (slow && first429 > 0) {
      expectations.push(
        expectation('accepted again after the window', 'a request after the window is not 429', recovered === undefined ? 'no answer' : `answered ${recovered}`, recovered !== undefined && recovered !== 429),
      );
    }
    return {
      expectations,
      metrics,
      details: {
        generation: id,
        'first 429 at': first429 === 0 ? null : first429,
        'Retry-After': retryAfterSeconds === undefined ? (first429 > 0 ? 'missing (a warning)' : null) : `${retryAfterSeconds} s`,
        'client after 429': clientStopped || (first429 > 0 ? 'kept sending' : null),
      },
    };
  },
};

export default rateLimitSpam;
