import { describeEnd } from '../src/engine/connection.js';
import { expectation, type Expectation, type Scenario } from '../src/replay/scenario.js';

/**
 * A stream cut mid-way by the network (seed 000's "connection lost"): the built-in fault proxy
 * cuts the first stream after N events or T ms, with a FIN or a reset. A robust client
 * reconnects with a fresh token and Last-Event-ID and gets every id exactly once.
 */
const networkCutoff: Scenario = {
  name: 'network-cutoff',
  description: 'the first stream cut mid-way (after N events or T ms, FIN or RST) by the fault proxy: reconnect, resume, no duplicates',
  defaultClients: ['robust', 'naive'],
  async run(ctx, client) {
    const { cut } = ctx.settings;
    const proxy = await ctx.startProxy({
      cutAfterEvents: cut.afterMs === undefined ? cut.afterEvents : undefined,
      cutAfterMs: cut.afterMs,
      reset: cut.reset,
      latencyMs: 0,
      bufferMs: 0,
      cutLimit: 1,
    });
    const id = await ctx.createGeneration('completing');
    const observed = await ctx.runSession(client, id, { api: ctx.apiThrough(proxy) });
    const { session, events } = observed;
    const cutStream = session.streams[0];
    const cutAt = cutStream?.endedAt;
    const recoveredAt = cutAt === undefined || session.streams.length < 2 ? undefined : events.find((event) => event.t > cutAt)?.t;
    const recoverMs = cutAt !== undefined && recoveredAt !== undefined ? recoveredAt - cutAt : undefined;
    const how = cut.afterMs !== undefined ? `after ${cut.afterMs} ms` : `after ${cut.afterEvents} events`;

    const expectations: Expectation[] = [
      expectation(
        'first stream cut by the proxy',
        `cut ${how} with ${cut.reset ? 'a reset' : 'a FIN'}`,
        proxy.cuts() > 0 ? `cut; the client saw: ${cutStream ? describeEnd(cutStream.end) : 'nothing'}` : `not cut (${cutStream ? describeEnd(cutStream.end) : 'no stream'}): the stream ended first`,
        proxy.cuts() > 0,
      ),
      expectation('client reconnects', 'at least one reconnect', `reconnects: ${Math.max(0, session.streams.length - 1)}`, session.streams.length > 1),
      expectation(
        'terminal event arrives',
        'the terminal event after the reconnect',
        session.sawTerminal ? 'received' : `not received (${session.stop.reason})`,
        session.sawTerminal,
      ),
      expectation('no missing ids', '0 ids missing', `${observed.observed.missing} missing`, observed.observed.missing === 0),
    ];
    // Only a client that sends Last-Event-ID can show whether the server resumes; the naive one replays by design.
    if (observed.resumes > 0) {
      expectations.push(
        expectation('resume without duplicates', 'every id exactly once after Last-Event-ID', `${observed.observed.duplicates} duplicate ids`, observed.observed.duplicates === 0),
      );
    }
    return {
      expectations,
      metrics: ctx.measure(observed),
      details: {
        generation: id,
        'cut': proxy.cuts() > 0 ? `${how}, ${cut.reset ? 'RST' : 'FIN'}` : 'not cut',
        'time to recover': recoverMs === undefined ? null : `${Math.round(recoverMs)} ms`,
        'Last-Event-ID sent': observed.resumes > 0,
      },
    };
  },
};

export default networkCutoff;
