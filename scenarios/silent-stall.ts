import { longerThanHeartbeat } from '../src/engine/silence.js';
import { expectation, type Expectation, type Scenario } from '../src/replay/scenario.js';

/**
 * A stream that goes quiet while the generation thinks. The server's heartbeat must fill the
 * silence so the client's watchdog never fires; when it does fire, the client must recover
 * (reconnect with Last-Event-ID) and still get the terminal event.
 */
const silentStall: Scenario = {
  name: 'silent-stall',
  description: "a stream that goes quiet: does the heartbeat keep the client's silence watchdog from firing, and does the client recover?",
  defaultClients: ['robust', 'naive'],
  async run(ctx, client) {
    const { limits } = ctx.profile;
    const model = ctx.clientModel(client);
    const id = await ctx.createGeneration('completing');
    const observed = await ctx.runSession(model, id);
    const { session } = observed;
    const heartbeatLimitMs = limits.heartbeatSeconds * 1000;
    // A silence the watchdog ended has no sign of life after it, so the observer never measured it.
    const cutSilences = session.streams.map((stream) => (stream.end.kind === 'silence' ? stream.end.silentMs : 0));
    const longestGapMs = Math.round(Math.max(observed.observed.longestGapMs, ...cutSilences));
    const watchdogFired = session.streams.filter((stream) => stream.end.kind === 'silence').length;
    // A target that never went quiet for the interval says nothing about its heartbeat either way.
    const heartbeatNeverNeeded = observed.observed.heartbeats === 0 && longestGapMs < heartbeatLimitMs;

    const expectations: Expectation[] = [
      expectation(
        'heartbeat fills the silence',
        `no silence longer than ${limits.heartbeatSeconds} s`,
        `longest silence ${longestGapMs} ms (${observed.observed.heartbeats} heartbeats)${heartbeatNeverNeeded ? `: no silence reached ${limits.heartbeatSeconds} s, so none was needed (a generation that thinks longer tests it)` : ''}`,
        !longerThanHeartbeat(longestGapMs, heartbeatLimitMs),
      ),
    ];
    // The naive client and EventSource have no watchdog: nothing to fire.
    if (model.silenceMs > 0) {
      expectations.push(
        expectation('silence watchdog never fires', `no ${model.silenceMs / 1000} s silence on any connection`, `fired: ${watchdogFired}`, watchdogFired === 0),
      );
    }
    expectations.push(
      expectation(
        watchdogFired > 0 ? 'client recovers' : 'terminal event arrives',
        'the terminal event',
        session.sawTerminal ? `received${watchdogFired > 0 ? ` after ${session.streams.length - 1} reconnects` : ''}` : `not received (${session.stop.reason})`,
        session.sawTerminal,
      ),
    );
    return {
      expectations,
      metrics: ctx.measure(observed),
      details: { generation: id, 'longest silence': `${longestGapMs} ms`, heartbeats: observed.observed.heartbeats, 'watchdog fired': watchdogFired },
    };
  },
};

export default silentStall;
