import { parseEventData } from '../src/engine/contractEvents.js';
import { describeEnd } from '../src/engine/connection.js';
import { whyRefused } from '../src/engine/generationsApi.js';
import { expectation, type Scenario } from '../src/replay/scenario.js';

/**
 * Seed 000's trigger: the client fetched its token, then the generation failed. Its stream must
 * say so (a terminal failed event with the error) and end at once, the token endpoint must
 * refuse the next request with 400, and the client must stop without a retry. "At once" is seed
 * 000's "failed generations should close in < 1 second", the profile's `firstEventSeconds`
 * (everything such a stream has to say is its first events), counted on the recorded timeline
 * from the response headers: how long the backend took to answer at all is not the stream's.
 */
const failedGeneration: Scenario = {
  name: 'failed-generation',
  description: 'a generation that failed after the token was fetched: terminal failed event, stream ends at once, 400 on the next token, no retries',
  defaultClients: ['robust', 'naive'],
  async run(ctx, client) {
    const { limits } = ctx.profile;
    const id = await ctx.createGeneration('failing');
    const api = await ctx.holdToken(id);
    const status = await ctx.waitForStatus(id, ['failed']);
    // Asked before the client runs, so a naive client's storm cannot have used up the rate limit.
    const next = await ctx.api.requestToken(id, { signal: ctx.signal });
    const nextStatus = 'exchange' in next ? next.exchange.status : undefined;
    const nextDetail = 'exchange' in next && !next.ok ? whyRefused(next) : '';
    const observed = await ctx.runSession(client, id, { api });
    const { session } = observed;
    const first = session.streams[0];
    // The first terminal event may be the `connected` one (it carries the failed status); the error is in the one after it.
    const failure = observed.events
      .filter((event) => first !== undefined && event.t <= first.endedAt)
      .map((event) => parseEventData(event))
      .find((data) => data?.status === 'failed' && data.stage !== 'connected');
    const message = typeof failure?.message === 'string' ? failure.message : '';
    const firstMs = first ? first.endedAt - first.startedAt : undefined;
    const closedAfterMs = first?.open === undefined ? undefined : first.endedAt - first.open.t;
    const endedAtOnce = first?.end.kind === 'clean-terminal' && closedAfterMs !== undefined && closedAfterMs <= limits.firstEventSeconds * 1000;

    return {
      expectations: [
        expectation(
          'terminal failed event with the error',
          'an event with status "failed" and the error in message',
          failure ? `failed${message ? `: "${message}"` : ' without a message'}` : `no failed event (${first ? describeEnd(first.end) : 'no stream'})`,
          failure !== undefined && message !== '',
        ),
        expectation(
          'stream ends at once',
          `a clean close after the terminal event, within ${limits.firstEventSeconds} s of the response headers`,
          first === undefined ? 'no stream'
          : closedAfterMs === undefined ? describeEnd(first.end)
          : `${describeEnd(first.end)} ${Math.round(closedAfterMs)} ms after the response headers`,
          endedAtOnce,
        ),
        expectation(
          'next token request refused',
          '400 naming the failure',
          nextStatus === undefined ? 'no answer' : `${nextStatus}${nextDetail ? ` "${nextDetail}"` : ''}`,
          nextStatus === 400,
        ),
        expectation('client stops without retrying', '0 retries', `retries: ${session.retries} (${session.stop.reason})`, session.retries === 0),
      ],
      metrics: ctx.measure(observed),
      details: { generation: id, 'status before connecting': status ?? null, 'first stream': firstMs === undefined ? null : `${Math.round(firstMs)} ms`, 'next token': nextStatus ?? null },
    };
  },
};

export default failedGeneration;
