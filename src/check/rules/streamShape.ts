import { describeBody, describeEnd } from '../../engine/connection.js';
import { isConnectedEvent, isHeartbeatEvent, parseEventData } from '../../engine/contractEvents.js';
import type { Available, CheckContext, ObservedStream } from '../context.js';
import { proxyInPath, readableStream, seconds, streamEvidence } from '../evidence.js';
import type { RecordedStream } from '../recording.js';
import { fail, pass, skip, warn, type Rule } from '../types.js';

/** The main stream once it has answered at all; `streaming` also requires a 200 (see stream.headers). */
async function answeredMainStream(ctx: CheckContext, streaming: boolean): Promise<Available<ObservedStream>> {
  const main = await ctx.mainStream();
  if (!main.ok) return main;
  const { open, end } = main.value.recording.result;
  if (open === undefined) return { ok: false, reason: `the stream did not answer: ${describeEnd(end)}` };
  if (streaming && open.status !== 200) return { ok: false, reason: `the stream answered HTTP ${open.status} (see stream.headers)` };
  return main;
}

/** The main stream when it is a readable event stream. */
export async function readableMainStream(ctx: CheckContext): Promise<Available<RecordedStream & { createdAt: number | undefined; generationId: string | undefined }>> {
  const main = await ctx.mainStream();
  if (!main.ok) return main;
  const readable = readableStream(main.value.recording);
  if (!readable.ok) return readable;
  return { ok: true, value: { ...readable.value, createdAt: main.value.createdAt, generationId: main.value.ticket.generationId } };
}

export const streamHeaders: Rule = {
  id: 'stream.headers',
  severity: 'error',
  group: 'stream',
  title: 'text/event-stream, Cache-Control no-cache, no Content-Length, no compression',
  why: 'without text/event-stream browsers refuse the stream; a cache, Content-Length or compression makes proxies hold events back',
  profiles: ['generations', 'generic'],
  async run(ctx) {
    const main = await answeredMainStream(ctx, false);
    if (!main.ok) return skip(main.reason);
    const { recording } = main.value;
    const open = recording.result.open!;
    const { end } = recording.result;
    if (end.kind === 'http-error') {
      return fail(
        `the stream answered ${end.status} (${end.bodyExcerpt.slice(0, 120) || 'no body'}) to ${ctx.profile.usesTokens ? 'a token just issued' : 'a plain request'}, not a stream`,
        'no client can stream at all',
        `answer 200 text/event-stream${ctx.profile.usesTokens ? ' for a valid, unused token' : ''}`,
        streamEvidence(recording),
      );
    }
    const headers = open.headers;
    const evidence = {
      ...streamEvidence(recording),
      contentType: headers['content-type'],
      cacheControl: headers['cache-control'],
      contentLength: headers['content-length'],
      contentEncoding: headers['content-encoding'],
    };
    const problems: string[] = [];
    if (end.kind === 'wrong-content-type') problems.push(`Content-Type is ${JSON.stringify(headers['content-type'] ?? '(none)')}, not text/event-stream (EventSource refuses it and reconnects forever); ${describeBody(end.body)}`);
    else if (!/^text\/event-stream\b/i.test(headers['content-type'] ?? '')) problems.push(`Content-Type is ${JSON.stringify(headers['content-type'] ?? '(none)')}, not text/event-stream (EventSource refuses it and reconnects forever)`);
    if (end.kind === 'binary-body') problems.push(`Content-Type is text/event-stream, but ${describeBody(end.body)} (no client can read events from it)`);
    if (!/\bno-(cache|store)\b/i.test(headers['cache-control'] ?? '')) problems.push('Cache-Control lacks no-cache (a cache may hold or replay the stream)');
    if (headers['content-length'] !== undefined) problems.push('Content-Length is set (an SSE stream has no known length; proxies wait for all of it)');
    const encoding = headers['content-encoding'];
    const compressed = encoding !== undefined && encoding !== 'identity';
    if (problems.length === 0 && compressed) {
      // Browsers ask for gzip and get it; whoever compresses is the one to stop.
      const proxy = proxyInPath(headers);
      return fail(
        `the stream is compressed (Content-Encoding: ${encoding}${proxy === undefined ? '' : `, through ${proxy}`}) for a browser's Accept-Encoding: gzip, deflate, br`,
        'a compressor holds events until its block fills or it is flushed, so they arrive late and in bursts; some clients cannot read a compressed event stream at all',
        proxy === undefined
          ? 'turn compression off for text/event-stream responses (exclude the stream route from the compression middleware)'
          : `turn compression off for text/event-stream in ${proxy} (nginx: drop text/event-stream from gzip_types, or gzip off in the stream location)`,
        evidence,
        proxy === undefined ? 'backend' : 'proxy',
      );
    }
    if (compressed) problems.push(`Content-Encoding is ${encoding} (compression buffers events until a block fills)`);
    if (problems.length > 0) {
      return fail(
        `the stream's response headers are wrong: ${problems.join('; ')}`,
        'browsers, proxies and CDNs decide from these headers whether to deliver events as they come',
        'send Content-Type: text/event-stream, Cache-Control: no-cache, no Content-Length and no compression on the stream route',
        evidence,
      );
    }
    return pass(`200 ${headers['content-type']}, Cache-Control: ${headers['cache-control']}, no Content-Length, not compressed`, evidence);
  },
};

export const streamTraceId: Rule = {
  id: 'stream.trace-id',
  severity: 'error',
  group: 'stream',
  title: 'the stream response carries an X-Trace-ID header',
  contractConvention: true,
  why: 'X-Trace-ID ties a broken stream seen by a user to the server\'s logs at 3 a.m.',
  profiles: ['generations', 'generic'],
  async run(ctx) {
    const main = await answeredMainStream(ctx, true);
    if (!main.ok) return skip(main.reason);
    const { recording } = main.value;
    const traceId = recording.result.open!.headers['x-trace-id'];
    const evidence = streamEvidence(recording);
    if (traceId === undefined || traceId.trim() === '') {
      return fail(
        'the stream response has no X-Trace-ID header',
        'when a user reports a broken stream, nobody can find its server-side logs',
        'generate a trace id per request, log it, and send it as X-Trace-ID',
        evidence,
      );
    }
    return pass(`X-Trace-ID: ${traceId}`, evidence);
  },
};

export const streamProxyHints: Rule = {
  id: 'stream.proxy-hints',
  severity: 'warn',
  group: 'stream',
  title: 'X-Accel-Buffering: no, X-Stream-Max-Seconds and X-Heartbeat-Interval are sent',
  why: 'X-Accel-Buffering: no stops nginx buffering the stream; the cap and heartbeat headers let clients and proxies size their timeouts',
  profiles: ['generations', 'generic'],
  async run(ctx) {
    const main = await answeredMainStream(ctx, true);
    if (!main.ok) return skip(main.reason);
    const { recording } = main.value;
    const headers = recording.result.open!.headers;
    const evidence = {
      ...streamEvidence(recording),
      xAccelBuffering: headers['x-accel-buffering'],
      xStreamMaxSeconds: headers['x-stream-max-seconds'],
      xHeartbeatInterval: headers['x-heartbeat-interval'],
    };
    const { heartbeatSeconds, streamMaxSeconds } = ctx.profile.limits;
    const notes: string[] = [];
    const explained: string[] = [];
    const proxy = proxyInPath(headers);
    if (headers['x-accel-buffering']?.toLowerCase() !== 'no') {
      // nginx reads the hint and never forwards it: its absence behind nginx says nothing.
      if (proxy === 'nginx') explained.push('X-Accel-Buffering is not seen because nginx, in the path, consumes it (it is addressed to nginx); stream.no-buffering judges whether nginx buffered');
      else notes.push('X-Accel-Buffering: no is missing (nginx buffers the stream by default)');
    }
    // The two X- limits are this contract's own headers: no other server is expected to send them.
    if (!ctx.profile.usesTokens) {
      if (notes.length > 0) return warn(notes.join('; '), 'send X-Accel-Buffering: no on the stream route so a proxy in front does not buffer it', evidence);
      return pass(explained[0] ?? 'X-Accel-Buffering: no present', evidence);
    }
    const maxSeconds = Number(headers['x-stream-max-seconds']);
    if (headers['x-stream-max-seconds'] === undefined) notes.push('X-Stream-Max-Seconds is missing (clients cannot tell a cap from a drop)');
    else if (!(maxSeconds <= streamMaxSeconds)) notes.push(`X-Stream-Max-Seconds is ${headers['x-stream-max-seconds']}, above the profile's ${streamMaxSeconds} s`);
    const interval = Number(headers['x-heartbeat-interval']);
    if (headers['x-heartbeat-interval'] === undefined) notes.push('X-Heartbeat-Interval is missing (clients cannot size their silence watchdog)');
    else if (!(interval <= heartbeatSeconds)) notes.push(`X-Heartbeat-Interval is ${headers['x-heartbeat-interval']}, above the profile's ${heartbeatSeconds} s`);
    if (notes.length > 0) return warn([...notes, ...explained].join('; '), 'send these headers on the stream route so proxies and clients can adapt', evidence);
    return pass(explained.length > 0 ? `X-Stream-Max-Seconds and X-Heartbeat-Interval present; ${explained.join('; ')}` : 'X-Accel-Buffering: no, X-Stream-Max-Seconds and X-Heartbeat-Interval present', evidence);
  },
};

export const streamConnectedFirst: Rule = {
  id: 'stream.connected-first',
  severity: 'error',
  group: 'stream',
  title: 'the first event comes at once and says stage "connected"',
  why: 'an immediate connected event tells the client the stream works before the first real output, so it does not time out and reconnect',
  profiles: ['generations'],
  async run(ctx) {
    const main = await readableMainStream(ctx);
    if (!main.ok) return skip(main.reason);
    const first = main.value.events[0];
    const { open, startedAt } = main.value.result;
    const limitMs = ctx.profile.limits.firstEventSeconds * 1000;
    const data = first ? parseEventData(first) : undefined;
    // From the request, not the headers: a proxy that holds the headers back with the first event
    // makes the two arrive together, however late.
    const firstEventMs = first ? first.t - startedAt : undefined;
    const evidence = { ...streamEvidence(main.value), firstEventMs: firstEventMs === undefined ? undefined : Math.round(firstEventMs), firstEvent: first?.data.slice(0, 200) };
    if (first === undefined) {
      return fail(
        'the stream sent no event at all',
        'the client cannot tell a live stream from a stalled proxy',
        'send {"stage": "connected", …} as the first event right after the headers',
        evidence,
      );
    }
    if (data?.stage !== 'connected') {
      return fail(
        `the first event is not a "connected" event (stage ${JSON.stringify(data?.stage)})`,
        'clients wait for the first real progress to know the stream works, and show a spinner meanwhile',
        'send {"stage": "connected", "status": <current status>, …} as the first event',
        evidence,
      );
    }
    if (firstEventMs! > limitMs) {
      const proxy = proxyInPath(open!.headers);
      if (open!.headersMs > limitMs) {
        return fail(
          `the headers and the connected event came ${seconds(firstEventMs!)} after the request, held back together (headers after ${seconds(open!.headersMs)})`,
          'something in the path buffers the whole response, headers included: the client sees a hanging request, then everything at once',
          proxy === undefined
            ? 'send the headers and the connected event at once and flush; if a proxy sits in front, turn its buffering off for the stream route'
            : `turn buffering off for the stream route in ${proxy} (nginx: proxy_buffering off, proxy_http_version 1.1, and do not ignore X-Accel-Buffering)`,
          evidence,
          proxy === undefined ? 'backend' : 'proxy',
        );
      }
      return fail(
        `the connected event came ${seconds(firstEventMs!)} after the request (${seconds(first.t - open!.t)} after the headers), more than ${seconds(limitMs)}`,
        'a buffering proxy or a slow first write leaves the client unsure the stream is live',
        'write and flush the connected event immediately after the headers',
        evidence,
      );
    }
    return pass(`"connected" ${Math.round(firstEventMs!)} ms after the request`, evidence);
  },
};

const MAX_LISTED = 5;

export const streamEventSchema: Rule = {
  id: 'stream.event-schema',
  severity: 'error',
  group: 'stream',
  title: 'event data is JSON with generation_id, status, stage, progress, message, timestamp',
  why: 'clients parse every event as JSON with these fields; a missing or wrong field breaks the page or its progress bar',
  profiles: ['generations'],
  async run(ctx) {
    const main = await readableMainStream(ctx);
    if (!main.ok) return skip(main.reason);
    const problems: string[] = [];
    let lastProgress = Number.NEGATIVE_INFINITY;
    let checked = 0;
    for (const event of main.value.events) {
      if (isHeartbeatEvent(event)) continue;
      checked++;
      const where = `event ${event.id ?? `#${checked}`}${event.event ? ` (${event.event})` : ''}`;
      const data = parseEventData(event);
      if (data === undefined) {
        problems.push(`${where}: data is not a JSON object`);
        continue;
      }
      const wrong: string[] = [];
      if (main.value.generationId !== undefined && String(data.generation_id) !== main.value.generationId) wrong.push(`generation_id ${JSON.stringify(data.generation_id)}`);
      if (typeof data.status !== 'string') wrong.push('status');
      if (typeof data.stage !== 'string') wrong.push('stage');
      if (typeof data.message !== 'string') wrong.push('message');
      // Unix seconds: a value in milliseconds is off by 1000 and breaks every client's clock maths.
      if (typeof data.timestamp !== 'number' || data.timestamp < 1e9 || data.timestamp > 1e11) wrong.push(`timestamp ${JSON.stringify(data.timestamp)}`);
      if (typeof data.progress !== 'number' || data.progress < 0 || data.progress > 1) wrong.push(`progress ${JSON.stringify(data.progress)}`);
      else if (!isConnectedEvent(data)) {
        if (data.progress < lastProgress) wrong.push(`progress went back from ${lastProgress} to ${data.progress}`);
        else lastProgress = data.progress;
      }
      if (wrong.length > 0) problems.push(`${where}: ${wrong.join(', ')}`);
    }
    const evidence = { ...streamEvidence(main.value), checked, invalid: problems.length, examples: problems.slice(0, MAX_LISTED) };
    if (problems.length > 0) {
      return fail(
        `${problems.length} of ${checked} events break the event schema (${problems.slice(0, MAX_LISTED).join('; ')})`,
        'clients parse these fields to show progress and to detect the end; a missing field becomes undefined and a stuck UI',
        'send every event as JSON with generation_id, status, stage, progress (0..1, never decreasing), message and timestamp (unix seconds)',
        evidence,
      );
    }
    if (checked === 0) return skip('the stream sent no events to check', evidence);
    return pass(`${checked} events, all valid`, evidence);
  },
};
