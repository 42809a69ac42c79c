import { expectation, type Scenario } from '../src/replay/scenario.js';

/** Default bound of a storm when `--max-duration` is not given: short, for a shared staging server. */
const STORM_MAX_DURATION_MS = 20_000;

/**
 * Seed 000's incident: a generation fails and the frontend, on every close or error, fetches a
 * new token and reconnects at once. The server cannot stop such a client; it can only tell it
 * (a terminal event) and refuse it cheaply (400 for a terminal generation, 429 past the limit)
 * instead of serving it silent 200 streams. Bounded by --max-requests / --max-duration.
 */
const retryStorm: Scenario = {
  name: 'retry-storm',
  description: "seed 000's incident: the naive client on a failing generation; requests per second and how the server stops it",
  defaultClients: ['naive'],
  async run(ctx, client) {
    const { limits } = ctx.profile;
    const id = await ctx.createGeneration('failing');
    // As in the seed: the frontend holds a token, the generation fails, then it connects.
    const api = await ctx.holdToken(id);
    await ctx.waitForStatus(id, ['failed']);
    const tokenStatuses: number[] = [];
    const observed = await ctx.runSession(client, id, {
      api,
      maxAttempts: ctx.settings.maxRequests,
      maxDurationMs: ctx.settings.maxDurationMs ?? STORM_MAX_DURATION_MS,
      callbacks: {
        onTokenResult: (result) => {
          if ('exchange' in result) tokenStatuses.push(result.exchange.status);
        },
      },
    });
    const { session } = observed;
    const metrics = ctx.measure(observed);

    // The server stopped the storm at the first refusal after which it never issued a token again.
    const lastIssued = tokenStatuses.lastIndexOf(200);
    const firstRefusalAfter = tokenStatuses.findIndex((status, index) => index > lastIssued && (status === 400 || status === 429));
    const stoppedBy = session.sawTerminal
      ? { how: 'terminal event', at: session.tokenRequests }
      : firstRefusalAfter >= 0
        ? { how: `${tokenStatuses[firstRefusalAfter]} at request ${firstRefusalAfter + 1}`, at: firstRefusalAfter + 1 }
        : undefined;
    // The generation is over before the first connection, so every 200 stream that closes without
    // a terminal event is the seed's "closed < 5ms" however long the backend took to close it.
    const silent200 = session.streams.filter((stream) => stream.open?.status === 200 && stream.terminalEvent === undefined && stream.end.kind === 'clean-no-terminal').length;
    const allowed = limits.tokenRateLimit + 1;
    // The client's side of the storm, off the recorded timeline: from one stream's end to the next one's request.
    const waits = session.streams.slice(1).map((stream, index) => stream.startedAt - session.streams[index]!.endedAt);

    return {
      expectations: [
        expectation('failure signalled in the stream', 'a terminal event telling the client to stop', session.sawTerminal ? 'terminal event received' : 'no terminal event', session.sawTerminal),
        expectation('no silent 200 streams', 'no 200 stream that closes without a terminal event', `${silent200} silent 200 streams`, silent200 === 0),
        expectation(
          'server stops the storm',
          `a terminal event, or 400/429 from then on, within ${allowed} token requests`,
          stoppedBy ? `stopped by ${stoppedBy.how}` : `not stopped: ${session.stop.reason}, ${metrics.requestsPerSecond} requests/s`,
          stoppedBy !== undefined && stoppedBy.at <= allowed,
        ),
      ],
      metrics,
      details: {
        generation: id,
        'stopped by': stoppedBy?.how ?? 'not stopped',
        'silent 200 streams': silent200,
        'shortest reconnect wait': waits.length === 0 ? null : `${Math.round(Math.min(...waits))} ms`,
        bound: `${ctx.settings.maxRequests} requests / ${Math.round((ctx.settings.maxDurationMs ?? STORM_MAX_DURATION_MS) / 1000)} s`,
      },
    };
  },
};

export default retryStorm;
