import { describeBody, describeEnd } from '../../engine/connection.js';
import { parseEventData } from '../../engine/contractEvents.js';
import type { SseEvent } from '../../engine/sseDecoder.js';
import type { CheckContext } from '../context.js';
import { readableStream, seconds, streamEvidence } from '../evidence.js';
import type { RecordedStream } from '../recording.js';
import { fail, pass, skip, type Rule } from '../types.js';
import { idleTimeout } from './streamTiming.js';

/**
 * A cut connection is stream.clean-close's finding, not this rule's: like a robust client, resume
 * once with a fresh token and Last-Event-ID, then judge what the server says about the failure.
 */
async function resumeAfterCut(ctx: CheckContext, first: RecordedStream): Promise<{ recording: RecordedStream; resumed: boolean }> {
  const { end, terminalEvent, lastEventId } = first.result;
  if (terminalEvent !== undefined || (end.kind !== 'reset' && end.kind !== 'abrupt-close')) return { recording: first, resumed: false };
  const ticket = await ctx.streamTicket('failing');
  if (!ticket.ok) return { recording: first, resumed: false };
  return { recording: await ctx.record({ url: ticket.value.url, lastEventId, ...ctx.followBounds }), resumed: true };
}

export const streamFailedGeneration: Rule = {
  id: 'stream.failed-generation',
  severity: 'error',
  group: 'stream',
  title: 'a generation that fails mid-stream ends with status "failed" and the error in message',
  why: 'the user must see why the generation failed, and the client must know to stop; a silent close makes it retry',
  profiles: ['generations'],
  async run(ctx) {
    const observed = await ctx.failingStream();
    if (!observed.ok) return skip(observed.reason);
    const readable = readableStream(observed.value.recording);
    if (!readable.ok) return skip(readable.reason);
    const { recording, resumed } = await resumeAfterCut(ctx, readable.value);
    const terminal = recording.result.terminalEvent;
    const data = terminal ? parseEventData(terminal) : undefined;
    const evidence = { ...streamEvidence(recording), terminalEvent: terminal?.data.slice(0, 200), resumedAfterCut: resumed };
    if (terminal === undefined) {
      const cut = await ctx.idleCut();
      if (cut !== undefined) {
        const idle = idleTimeout(cut, recording.result.open?.headers ?? {});
        return fail(`the failing generation's stream ended without a terminal event: ${idle.seen}`, 'the client never learns the generation failed and reconnects into the same cut', idle.fix, evidence, idle.layer);
      }
      return fail(
        `the failing generation's stream ended without a terminal event: ${describeEnd(recording.result.end)}`,
        'the client sees a dropped stream and reconnects; the token endpoint then refuses or the stream closes again: the seed\'s retry storm started exactly here',
        'when the generation fails, send {"status": "failed", "stage": "error", "message": <the error>} and close',
        evidence,
      );
    }
    if (data?.status !== 'failed') {
      return fail(
        `the failing generation's terminal event has status ${JSON.stringify(data?.status)}, not "failed"`,
        'the client shows a failure as a success (or keeps waiting)',
        'send status "failed" in the terminal event of a failed generation',
        evidence,
      );
    }
    if (typeof data.message !== 'string' || data.message.trim() === '') {
      return fail(
        "the failing generation's terminal event has no error message",
        'the user sees "failed" with no reason and support has nothing to go on',
        'put the generation\'s error_message in the terminal event\'s "message"',
        evidence,
      );
    }
    return pass(`status "failed", message ${JSON.stringify(data.message.slice(0, 80))}`, evidence);
  },
};

export const streamTerminalGeneration: Rule = {
  id: 'stream.terminal-generation',
  severity: 'error',
  group: 'stream',
  title: 'the stream of an already finished generation still sends a terminal event',
  why: 'a finished generation\'s stream that closes at once with 200 is the seed\'s retry-storm bug: the client reconnects forever',
  profiles: ['generations'],
  async run(ctx) {
    // The token is taken while the generation runs, and used only once it is over.
    const ticket = await ctx.streamTicket('completing');
    if (!ticket.ok) return skip(ticket.reason);
    const terminal = await ctx.waitForTerminal(ticket.value.generationId!);
    if (!terminal.ok) return skip(terminal.reason);
    const recording = await ctx.record({ url: ticket.value.url, ...ctx.followBounds });
    const evidence = { ...streamEvidence(recording), generationStatus: terminal.value.status, terminalEvent: recording.result.terminalEvent?.data.slice(0, 200) };
    const status = recording.result.open?.status;
    if (status === 401 || status === 403) {
      return skip(`the token, issued while the generation ran, was refused (${status}) once it had ended: expired or not single-use-safe, see stream.token-expiry`, evidence);
    }
    if (status !== undefined && status >= 400 && status < 500) return pass(`refused with ${status} once the generation was ${terminal.value.status}`, evidence);
    const { end } = recording.result;
    if (end.kind === 'wrong-content-type' || end.kind === 'binary-body') return skip(`${describeBody(end.body)} (see stream.headers)`, evidence);
    if (recording.result.terminalEvent !== undefined) {
      return pass(`a terminal event arrived for the ${terminal.value.status} generation (${recording.events.length} events replayed)`, evidence);
    }
    return fail(
      `the stream of a ${terminal.value.status} generation ${status === 200 ? `answered 200 and ${describeEnd(recording.result.end)}` : describeEnd(recording.result.end)}`,
      'a client that asked for a token just before the end gets a stream that closes silently, reconnects, and loops: this is the seed\'s retry storm',
      'when the generation is already terminal, send its terminal event (or replay the history) before closing',
      evidence,
    );
  },
};

/** Events with an `id:` field, in order of arrival. */
const withIds = (events: readonly SseEvent[]) => events.filter((event) => event.id !== undefined && event.id !== '');
const RESUMED_EVENTS_CHECKED = 3;

export const streamResume: Rule = {
  id: 'stream.resume',
  severity: 'error',
  group: 'stream',
  title: 'reconnecting with Last-Event-ID continues after that id: no duplicate, no gap',
  why: 'after a dropped connection the client resumes with Last-Event-ID; duplicates or gaps corrupt the text the user sees',
  profiles: ['generations', 'generic'],
  async run(ctx) {
    const firstTicket = await ctx.streamTicket('spare');
    if (!firstTicket.ok) return skip(firstTicket.reason);
    const bounds = ctx.followBounds;
    const first = await ctx.record({ url: firstTicket.value.url, stopWhen: (event) => event.id !== undefined && event.id !== '', ...bounds });
    const readable = readableStream(first);
    if (!readable.ok) return skip(readable.reason);
    const lastId = withIds(first.events).at(-1)?.id;
    if (lastId === undefined) return skip(`the events carry no id: nothing to resume from (the stream ${describeEnd(first.result.end)})`, streamEvidence(first));

    const secondTicket = await ctx.streamTicket('spare');
    if (!secondTicket.ok) return skip(secondTicket.reason);
    let seen = 0;
    const second = await ctx.record({
      url: secondTicket.value.url,
      lastEventId: lastId,
      stopWhen: (event) => (event.id !== undefined && event.id !== '' ? ++seen >= RESUMED_EVENTS_CHECKED : false),
      ...bounds,
    });
    const resumedIds = withIds(second.events).map((event) => event.id!);
    const evidence = { lastEventId: lastId, resumedIds, first: streamEvidence(first), resumed: streamEvidence(second) };
    if (second.result.open?.status !== 200) return skip(`the resumed stream did not open (${describeEnd(second.result.end)})`, evidence);
    const numeric = (id: string) => (/^\d{1,15}$/.test(id) ? Number(id) : undefined);
    const last = numeric(lastId);
    const replayed = resumedIds.filter((id) => id === lastId || (last !== undefined && (numeric(id) ?? Number.POSITIVE_INFINITY) <= last));
    if (replayed.length > 0) {
      return fail(
        `after Last-Event-ID: ${lastId} the stream sent id ${replayed.slice(0, 5).join(', ')} again`,
        'every reconnect replays what the client already showed: duplicated text, progress jumping back',
        'read the Last-Event-ID header and send only the events after that id',
        evidence,
      );
    }
    const next = resumedIds[0];
    if (last !== undefined && next !== undefined && numeric(next) !== last + 1) {
      return fail(
        `after Last-Event-ID: ${lastId} the stream continued at id ${next}, skipping ${numeric(next) === undefined ? 'the sequence' : `${numeric(next)! - last - 1} event(s)`}`,
        'events produced while the client was away are lost',
        'keep the history per generation and send every event after the Last-Event-ID',
        evidence,
      );
    }
    if (next === undefined) return pass(`resumed after id ${lastId}; no further events with ids (${describeEnd(second.result.end)})`, evidence);
    return pass(`resumed after id ${lastId} with id ${next}`, evidence);
  },
};

export const streamDurationCap: Rule = {
  id: 'stream.duration-cap',
  severity: 'error',
  group: 'stream',
  title: 'no stream stays open past the duration cap; the cap ends with a terminal event',
  why: 'streams that never end pin server connections; a terminal event at the cap lets the client tell a cap from a failure',
  slow: true,
  profiles: ['generations', 'generic'],
  async run(ctx) {
    const ticket = await ctx.streamTicket('spare');
    if (!ticket.ok) return skip(ticket.reason);
    const { streamMaxSeconds, closeAfterTerminalSeconds } = ctx.profile.limits;
    const capMs = streamMaxSeconds * 1000;
    const bounds = ctx.followBounds;
    const recording = await ctx.record({
      url: ticket.value.url,
      silenceTimeoutMs: bounds.silenceTimeoutMs,
      closeAfterTerminalMs: bounds.closeAfterTerminalMs,
      // Past the cap by the close allowance and a margin: only then is the stream over its cap.
      maxDurationMs: capMs + closeAfterTerminalSeconds * 1000 + 1000,
    });
    const readable = readableStream(recording);
    if (!readable.ok) return skip(readable.reason);
    const terminal = recording.result.terminalEvent;
    const data = terminal ? parseEventData(terminal) : undefined;
    const durationMs = recording.result.endedAt - recording.result.startedAt;
    const evidence = { ...streamEvidence(recording), capMs, terminalEvent: terminal?.data.slice(0, 200) };
    if (recording.result.end.kind === 'max-duration') {
      return fail(
        `the stream was still open after ${seconds(durationMs)}, past the ${streamMaxSeconds} s cap`,
        'endless streams pile up connections and workers until the server runs out',
        `end every stream after ${streamMaxSeconds} s with a terminal event (stage "timeout", or type complete with reason "duration_cap")`,
        evidence,
      );
    }
    const capped = data?.stage === 'timeout' || data?.reason === 'duration_cap';
    if (terminal !== undefined && capped) return pass(`capped after ${seconds(durationMs)} with a terminal event (stage ${JSON.stringify(data?.stage)})`, evidence);
    if (terminal !== undefined) return skip(`the generation ended after ${seconds(durationMs)}, before the ${streamMaxSeconds} s cap: the cap was not exercised`, evidence);
    return fail(
      `the stream ended after ${seconds(durationMs)} without a terminal event (${describeEnd(recording.result.end)})`,
      'at the cap the client sees a drop, not an end, and reconnects',
      'send a terminal event (stage "timeout") when the cap is reached, then close',
      evidence,
    );
  },
};
