import { describeEnd } from '../../engine/clientPolicy.js';
import { parseEventData } from '../../engine/contractEvents.js';
import { seconds, streamEvidence } from '../evidence.js';
import { closeAfterTerminal, findBufferedBursts, longestSilence, type TimedEvent } from '../timing.js';
import { fail, pass, skip, type Rule } from '../types.js';
import { readableMainStream } from './streamShape.js';

/** Events that arrive this close together count as one burst. */
const BURST_GAP_MS = 15;
/**
 * Timestamps spanning more than this in one burst mean buffering, or half the heartbeat
 * interval when that is shorter: a held-back event is a delay the client notices as a silence.
 */
const MAX_BURST_SPAN_MS = 1000;

export const streamHeartbeat: Rule = {
  id: 'stream.heartbeat',
  severity: 'error',
  group: 'stream',
  title: 'no silence longer than the heartbeat interval while the stream is open',
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
    if (silence.gapMs > limitMs) {
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
  profiles: ['generations', 'generic'],
  async run(ctx) {
    const main = await readableMainStream(ctx);
    if (!main.ok) return skip(main.reason);
    const recording = main.value;
    const terminal = recording.result.terminalEvent;
    const evidence = { ...streamEvidence(recording), terminalEvent: terminal?.data.slice(0, 200), terminalType: terminal?.event };
    if (terminal === undefined) {
      const { terminal: words } = ctx.profile;
      return fail(
        `the stream ended without a terminal event (${describeEnd(recording.result.end)})`,
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
  profiles: ['generations', 'generic'],
  async run(ctx) {
    const main = await readableMainStream(ctx);
    if (!main.ok) return skip(main.reason);
    const recording = main.value;
    const { end } = recording.result;
    const evidence = streamEvidence(recording);
    if (end.kind === 'reset' || end.kind === 'abrupt-close') {
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
  title: 'events arrive as they are produced, not in buffered bursts',
  profiles: ['generations', 'generic'],
  async run(ctx) {
    const main = await readableMainStream(ctx);
    if (!main.ok) return skip(main.reason);
    const recording = main.value;
    const timed: TimedEvent[] = [];
    for (const event of recording.events) {
      const timestamp = parseEventData(event)?.timestamp;
      if (typeof timestamp === 'number') timed.push({ arrivedAt: event.t, producedAt: timestamp * 1000 });
    }
    if (timed.length < 2) return skip('the events carry no "timestamp": buffering cannot be measured', streamEvidence(recording));
    const maxProducedSpanMs = Math.min(MAX_BURST_SPAN_MS, ctx.profile.limits.heartbeatSeconds * 500);
    const openAt = recording.result.open!.t;
    // History made between the generation's creation and the connection may be replayed at once.
    const replayAllowanceMs = recording.createdAt === undefined ? Number.POSITIVE_INFINITY : Math.max(0, openAt - recording.createdAt);
    const bursts = findBufferedBursts(timed, { burstGapMs: BURST_GAP_MS, maxProducedSpanMs, replayAllowanceMs });
    const evidence = {
      ...streamEvidence(recording),
      timedEvents: timed.length,
      bursts: bursts.map((burst) => ({ events: burst.count, arrivalSpanMs: Math.round(burst.arrivalSpanMs), producedSpanMs: Math.round(burst.producedSpanMs) })),
      maxProducedSpanMs,
    };
    const worst = bursts.reduce<(typeof bursts)[number] | undefined>((max, burst) => (max === undefined || burst.producedSpanMs > max.producedSpanMs ? burst : max), undefined);
    if (worst !== undefined) {
      return fail(
        `${worst.count} events made ${seconds(worst.producedSpanMs)} apart arrived within ${Math.round(worst.arrivalSpanMs)} ms of each other`,
        'something between the generator and the client holds events back (a buffering proxy, compression, or a missing flush), so users see nothing and then everything',
        'flush after every event, send X-Accel-Buffering: no, disable compression on the stream route and proxy buffering (nginx proxy_buffering off)',
        evidence,
      );
    }
    return pass(`${timed.length} timestamped events, no buffered burst`, evidence);
  },
};
