import { describeEnd } from '../../engine/connection.js';
import { parseEventData } from '../../engine/contractEvents.js';
import { proxyInPath, seconds, streamEvidence } from '../evidence.js';
import { BURST_GAP_MS, heldBackEvents, heldBackLimitMs, timedEvent, type TimedEvent } from '../../engine/heldBack.js';
import { longerThanHeartbeat, longestSilence } from '../../engine/silence.js';
import { closeAfterTerminal } from '../timing.js';
import type { IdleCut } from '../context.js';
import { fail, pass, skip, type Layer, type Rule } from '../types.js';
import { readableMainStream } from './streamShape.js';


/** An idle cut in words: where it most likely sits, what was seen, and the fix there. */
export function idleTimeout(cut: IdleCut, headers: Readonly<Record<string, string>>): { readonly layer: Layer; readonly seen: string; readonly fix: string } {
  const timeoutMs = Math.min(...cut.silencesMs);
  const proxy = proxyInPath(headers);
  const layer = cut.repeated || proxy !== undefined ? 'proxy' : 'backend';
  const first = `the stream was cut after ${seconds(cut.silencesMs[0]!)} of silence`;
  let seen = `${first} (once; a second stream was not cut the same way)`;
  if (cut.repeated) seen = `${first}, and a second stream after ${seconds(cut.silencesMs[1]!)}: an idle timeout of about ${seconds(timeoutMs)} somewhere in the path (${proxy ?? 'a proxy or load balancer'}), not the backend`;
  else if (proxy !== undefined) seen = `${first}, with ${proxy} in the path: most likely its idle timeout, not the backend`;
  return {
    layer,
    seen,
    fix: `send a heartbeat (": heartbeat") at least every ${seconds(timeoutMs / 2)}, half that timeout, or raise the idle timeout above the heartbeat interval (nginx: proxy_read_timeout)`,
  };
}

export const streamHeartbeat: Rule = {
  id: 'stream.heartbeat',
  severity: 'error',
  group: 'stream',
  title: 'no silence longer than the heartbeat interval while the stream is open',
  contractConvention: true,
  why: 'proxies and load balancers cut connections that stay silent, and clients reconnect after 15 s of silence: heartbeats keep the stream alive',
  profiles: ['generations', 'generic'],
  async run(ctx) {
    const main = await readableMainStream(ctx);
    if (!main.ok) return skip(main.reason);
    const recording = main.value;
    const openAt = recording.result.open!.t;
    const signs = [...recording.events.map((event) => event.t), ...recording.comments];
    const silence = longestSilence(openAt, signs, recording.terminalAt ?? recording.result.endedAt);
    const limitMs = ctx.profile.limits.heartbeatSeconds * 1000;
    const evidence = { ...streamEvidence(recording), longestSilenceMs: Math.round(silence.gapMs), silenceEndedAtMs: Math.round(silence.endedAt - openAt), limitMs };
    const cut = await ctx.idleCut();
    if (cut !== undefined) {
      // A cut is a failure under any profile: the stream did not survive its own pauses.
      const idle = idleTimeout(cut, recording.result.open!.headers);
      const why = 'every stream with a pause that long is cut before it ends, and the client reconnects into the same cut';
      return { ...fail(idle.seen, why, idle.fix, { ...evidence, cutAfterSilenceMs: cut.silencesMs.map(Math.round) }, idle.layer), severity: 'error' };
    }
    if (longerThanHeartbeat(silence.gapMs, limitMs)) {
      return fail(
        `the stream was silent for ${seconds(silence.gapMs)}, longer than the ${seconds(limitMs)} heartbeat interval`,
        'proxies and load balancers cut idle connections (often after 30-60 s), and clients cannot tell a thinking model from a dead stream',
        `send a comment line ": heartbeat" (or an event of type heartbeat) at least every ${ctx.profile.limits.heartbeatSeconds} s while the generation runs`,
        evidence,
      );
    }
    return pass(`longest silence ${Math.round(silence.gapMs)} ms (${recording.comments.length} heartbeat comments)`, evidence);
  },
};

export const streamTerminalEvent: Rule = {
  id: 'stream.terminal-event',
  severity: 'error',
  group: 'stream',
  title: 'the stream ends only after a terminal event',
  why: 'a stream that closes without a terminal event looks like a dropped connection, so the client reconnects: the seed\'s retry storm',
  profiles: ['generations', 'generic'],
  async run(ctx) {
    const main = await readableMainStream(ctx);
    if (!main.ok) return skip(main.reason);
    const recording = main.value;
    const terminal = recording.result.terminalEvent;
    const evidence = { ...streamEvidence(recording), terminalEvent: terminal?.data.slice(0, 200), terminalType: terminal?.event };
    if (terminal === undefined) {
      const { terminal: words } = ctx.profile;
      const cut = await ctx.idleCut();
      if (cut !== undefined) {
        const idle = idleTimeout(cut, recording.result.open!.headers);
        return fail(`the stream ended without a terminal event: ${idle.seen}`, 'the client sees a drop, not an end, and reconnects', idle.fix, evidence, idle.layer);
      }
      return fail(
        `the stream ended without a terminal event: ${describeEnd(recording.result.end)}`,
        'the client cannot tell "finished" from "dropped", so it reconnects; when the generation is over it does so forever (the seed\'s retry storm)',
        `send a last event whose status is one of ${words.statuses.join('/')}${words.stages.length > 0 ? ` or whose stage is one of ${words.stages.join('/')}` : ''}${words.eventTypes.length > 0 ? ` (or of type ${words.eventTypes.join('/')})` : ''}, then close`,
        evidence,
      );
    }
    const data = parseEventData(terminal);
    return pass(`terminal event ${terminal.event ? `of type ${terminal.event} ` : ''}with status ${JSON.stringify(data?.status)}, stage ${JSON.stringify(data?.stage)}`, evidence);
  },
};

export const streamCloseAfterTerminal: Rule = {
  id: 'stream.close-after-terminal',
  severity: 'error',
  group: 'stream',
  title: 'the server closes the connection soon after the terminal event',
  why: 'a connection held open after the end wastes a server slot per client and hides the end from clients that wait for the close',
  profiles: ['generations', 'generic'],
  async run(ctx) {
    const main = await readableMainStream(ctx);
    if (!main.ok) return skip(main.reason);
    const recording = main.value;
    const limitMs = ctx.profile.limits.closeAfterTerminalSeconds * 1000;
    const verdict = closeAfterTerminal(recording.terminalAt, recording.result.end, recording.result.endedAt, limitMs);
    const evidence = { ...streamEvidence(recording), afterTerminalMs: 'afterMs' in verdict ? Math.round(verdict.afterMs) : undefined, limitMs };
    switch (verdict.kind) {
      case 'no-terminal':
        return skip('no terminal event was seen (see stream.terminal-event)', evidence);
      case 'closed':
        return pass(`closed ${Math.round(verdict.afterMs)} ms after the terminal event`, evidence);
      case 'late':
      case 'not-closed':
        return fail(
          verdict.kind === 'late'
            ? `the connection closed ${seconds(verdict.afterMs)} after the terminal event, later than ${seconds(limitMs)}`
            : `the connection was still open ${seconds(verdict.afterMs)} after the terminal event (sse-doctor closed it)`,
          'every finished stream holds a connection and a worker; an EventSource that sees the close late may reconnect meanwhile',
          'return from the stream generator right after yielding the terminal event',
          evidence,
        );
    }
  },
};

export const streamCleanClose: Rule = {
  id: 'stream.clean-close',
  severity: 'error',
  group: 'stream',
  title: 'the stream ends with a clean EOF, not a reset',
  why: 'a reset looks like a network failure to the client, which then reconnects instead of finishing',
  profiles: ['generations', 'generic'],
  async run(ctx) {
    const main = await readableMainStream(ctx);
    if (!main.ok) return skip(main.reason);
    const recording = main.value;
    const { end } = recording.result;
    const evidence = streamEvidence(recording);
    if (end.kind === 'reset' || end.kind === 'abrupt-close') {
      const cut = await ctx.idleCut();
      if (cut !== undefined) {
        const idle = idleTimeout(cut, recording.result.open!.headers);
        return fail(`the stream ended with a ${end.kind === 'reset' ? 'connection reset' : 'broken connection'} (${end.code}): ${idle.seen}`, 'clients treat the cut as a network failure and reconnect', idle.fix, evidence, idle.layer);
      }
      return fail(
        `the stream ended with a ${end.kind === 'reset' ? 'connection reset' : 'broken connection'} (${end.code})${recording.terminalAt === undefined ? ', before any terminal event' : ''}`,
        'clients and proxies treat a reset as a network failure and reconnect; a dropped chunked response may also lose its last events',
        'finish the response normally (end the chunked body) instead of destroying the socket',
        evidence,
      );
    }
    if (end.kind === 'clean-terminal') return pass('EOF after the terminal event', evidence);
    return skip(`not judged: the connection did not end by itself (${describeEnd(end)}); see stream.terminal-event and stream.close-after-terminal`, evidence);
  },
};

export const streamNoBuffering: Rule = {
  id: 'stream.no-buffering',
  severity: 'error',
  group: 'stream',
  title: 'events arrive as they are produced, not held back and sent in bursts',
  why: 'buffered events arrive in bursts: users see nothing, then everything, and heartbeats stop reaching the client',
  profiles: ['generations', 'generic'],
  async run(ctx) {
    const main = await readableMainStream(ctx);
    if (!main.ok) return skip(main.reason);
    const recording = main.value;
    const timed = recording.events.map((event) => timedEvent(event)).filter((event): event is TimedEvent => event !== undefined);
    if (timed.length < 2) return skip('the events carry no "timestamp": buffering cannot be measured', streamEvidence(recording));
    // Whole seconds would read as up to a second of delay: too coarse to judge.
    if (timed.every((event) => Number.isInteger(event.producedAt / 1000))) {
      return skip('the event timestamps are whole seconds: too coarse to measure buffering (send unix seconds with a fraction)', streamEvidence(recording));
    }
    const limitMs = heldBackLimitMs(ctx.profile.limits.heartbeatSeconds * 1000);
    const { live, worst } = heldBackEvents(timed, recording.result.startedAt, BURST_GAP_MS);
    const evidence = {
      ...streamEvidence(recording),
      timedEvents: timed.length,
      liveEvents: live,
      worstDelayMs: worst ? Math.round(worst.extraDelayMs) : undefined,
      worstBurst: worst?.burstSize,
      limitMs,
    };
    if (worst !== undefined && worst.extraDelayMs > limitMs) {
      const { headers, headersMs } = recording.result.open!;
      const proxy = proxyInPath(headers);
      const encoding = headers['content-encoding'];
      const heldHeaders = headersMs > limitMs ? `; the headers were held back too (they came ${seconds(headersMs)} after the request, with the first events)` : '';
      return fail(
        `an event reached the client ${seconds(worst.extraDelayMs)} later than it was made${worst.burstSize > 1 ? `, in a burst of ${worst.burstSize} events` : ''} (the limit is ${seconds(limitMs)})${heldHeaders}`,
        `something between the generator and the client holds events back (${proxy === undefined ? 'a buffering proxy, compression, or a missing flush' : `${proxy} in the path`}${encoding ? `, compressing with ${encoding}` : ''}), so users see nothing and then everything`,
        proxy === undefined
          ? 'flush after every event, send X-Accel-Buffering: no, disable compression on the stream route and any proxy buffering'
          : `turn buffering off for the stream route in ${proxy} (nginx: proxy_buffering off, or honour the backend's X-Accel-Buffering: no by taking it out of proxy_ignore_headers; proxy_http_version 1.1${encoding ? '; gzip off' : ''})`,
        evidence,
        proxy === undefined ? 'backend' : 'proxy',
      );
    }
    return pass(`${live} live events, none held back more than ${Math.round(worst?.extraDelayMs ?? 0)} ms`, evidence);
  },
};
