import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../src/engine/clock.js';
import { DoctorError } from '../src/errors.js';
import { parseOpenFilesLimit, socketLimitWarning } from '../src/load/fileLimit.js';
import { decodeHistogram, encodeHistogram, newHistogram, recordMs, summarise } from '../src/load/histograms.js';
import { mergeParts, parsePart } from '../src/load/merge.js';
import type { LoadPart } from '../src/load/part.js';
import { planShare, type LoadPlan } from '../src/load/plan.js';
import { buildLoadReport } from '../src/load/report.js';
import { intendedArrivalMs } from '../src/load/arrivals.js';
import { errorKind } from '../src/load/measures.js';
import { runLoad } from '../src/load/runner.js';
import { parseThreshold } from '../src/load/thresholds.js';
import { resolveTargetOptions } from '../src/options/options.js';
import { loadJson } from '../src/reporters/loadJson.js';
import { startReferenceServer, type ReferenceServer } from '../src/server/referenceServer.js';

const FAST = { generationMs: 400, heartbeatMs: 50, streamMaxMs: 5000 };

let server: ReferenceServer;
beforeAll(async () => {
  server = await startReferenceServer({ port: 0, timings: FAST });
});
afterAll(() => server.close());

function plan(overrides: Partial<LoadPlan>): LoadPlan {
  return {
    target: resolveTargetOptions({ baseUrl: server.baseUrl, auth: 'load-user' }, {}, tmpdir()),
    mode: 'streams',
    arrival: { kind: 'closed', clients: 10 },
    durationMs: 1500,
    rampMs: 0,
    maxRequests: undefined,
    ids: undefined,
    client: 'robust',
    sourceNetwork: undefined,
    ...overrides,
  };
}

describe('load runner against the reference server', () => {
  it('runs 50 closed-model clients through the full flow and counts every step', async () => {
    const part = await runLoad(plan({ arrival: { kind: 'closed', clients: 50 }, durationMs: 2000 }));
    const { counters } = part;
    // Each 400 ms generation is one flow; 50 clients loop for 2 s.
    expect(counters.flows).toBeGreaterThanOrEqual(100);
    // Never more open at once than there are clients; nearly all of them at the peak (on a busy machine one may
    // already be between two flows when the last one opens).
    expect(part.peakOpenStreams).toBeLessThanOrEqual(50);
    expect(part.peakOpenStreams).toBeGreaterThan(40);
    expect(part.responses.create['201']).toBe(counters.createRequests);
    expect(part.responses.token['200']).toBe(counters.tokenRequests);
    expect(part.responses.stream['200']).toBe(counters.streamsOpened);
    expect(part.errors).toEqual({});
    const firstEvent = decodeHistogram(part.histograms.firstEvent);
    expect(firstEvent.totalCount).toBe(counters.streamsOpened);
    expect(decodeHistogram(part.histograms.tokenRequest).totalCount).toBe(counters.tokenRequests);
    expect(decodeHistogram(part.histograms.gap).totalCount).toBeGreaterThan(counters.events - counters.streamsOpened);
    // Streams cut at the end of the run (at most one per client) have no duration.
    const durations = decodeHistogram(part.histograms.streamDuration).totalCount;
    expect(durations).toBeLessThanOrEqual(counters.streamsOpened);
    expect(durations).toBeGreaterThanOrEqual(counters.streamsOpened - 50);
    expect(part.timeline.length).toBeGreaterThanOrEqual(2);

    const json = JSON.parse(loadJson(buildLoadReport(part, []))) as { metrics: Record<string, unknown>; thresholds: unknown[]; verdict: string };
    expect(Object.keys(json.metrics)).toEqual(expect.arrayContaining(['peakOpenStreams', 'streamsOpened', 'events', 'eventsPerSecond', 'rate429', 'errors', 'latencyMs']));
    expect(Object.keys(json.metrics.latencyMs as object)).toEqual(expect.arrayContaining(['tokenRequest', 'firstEvent', 'gap']));
    expect(Object.keys((json.metrics.latencyMs as Record<string, object>).firstEvent!)).toEqual(expect.arrayContaining(['p50', 'p95', 'p99', 'max']));
    expect(json.thresholds).toEqual([
      { threshold: 'streams opened > 0 (default)', actual: counters.streamsOpened, ok: true },
      { threshold: 'errorRate<=0.05 (default)', actual: 0, ok: true },
    ]);
    expect(json.verdict).toBe('pass');
  }, 15_000);

  it('open model: clients arrive on a fixed schedule, however slowly the server answers', async () => {
    const part = await runLoad(plan({ arrival: { kind: 'open', ratePerSecond: 20 }, durationMs: 1500 }));
    // Arrivals at 0, 50, …, 1450 ms: exactly 30.
    expect(part.counters.flows).toBe(30);
    expect(part.settings.arrival).toBe('open');
  }, 15_000);

  it('token spam hits only the token endpoint and sees the rate limit', async () => {
    const part = await runLoad(plan({ mode: 'token-spam', arrival: { kind: 'closed', clients: 4 }, durationMs: 800 }));
    // One generation per client, 10 tokens per generation per window (docs/contract.md), the rest 429.
    expect(part.counters.createRequests).toBe(4);
    expect(part.responses.token['200']).toBe(40);
    expect(part.responses.token['429']).toBeGreaterThan(0);
    expect(part.counters.connections).toBe(0);
    const report = buildLoadReport(part, [parseThreshold('rate429<0.05')]);
    expect(report.metrics.rate429).toBeGreaterThan(0.05);
    expect(report.verdict).toBe('fail');
  }, 15_000);

  it('--max-requests bounds the flows exactly, and shares of a plan add up to the same counts', async () => {
    const whole = await runLoad(plan({ arrival: { kind: 'closed', clients: 4 }, maxRequests: 24, durationMs: 8000 }));
    // create + token + stream = 3 requests a flow: 8 flows, whatever the timing.
    expect(whole.counters.flows).toBe(8);
    expect(whole.counters.streamsOpened).toBe(8);
    const wholePlan = plan({ arrival: { kind: 'closed', clients: 4 }, maxRequests: 24, durationMs: 8000 });
    const parts = await Promise.all([0, 1].map((index) => runLoad(planShare(wholePlan, index, 2))));
    const merged = mergeParts(parts);
    // Heartbeat comments depend on timing; everything else is the work itself.
    expect({ ...merged.counters, comments: 0 }).toEqual({ ...whole.counters, comments: 0 });
    expect(merged.processes).toBe(2);
  }, 20_000);
});

describe("a load run's end never races its first answer", () => {
  it('a run whose end passed before its first client could start still asks once, and counts what came back', async () => {
    // Not HTTP at all: the answer is a protocol failure, which makes the run exit 3 (commands/load.ts).
    const garbage = createNetServer((socket) => socket.once('data', () => socket.end(Buffer.alloc(1024, 0xff))));
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    // A machine so busy that a second passes between every two looks at the clock: the 1 ms run is over before anything starts.
    let now = 0;
    const busy: Clock = { ...systemClock, now: () => (now += 1000) };
    try {
      const part = await runLoad(
        { ...plan({ arrival: { kind: 'closed', clients: 2 }, durationMs: 1 }), target: resolveTargetOptions({ baseUrl: `http://127.0.0.1:${(garbage.address() as AddressInfo).port}/api`, auth: 'load-user' }, {}, tmpdir()) },
        { clock: busy },
      );
      expect(part.counters.createRequests).toBe(1);
      expect(part.errors).toEqual({ 'create-protocol': 1 });
    } finally {
      await new Promise<void>((resolve) => garbage.close(() => resolve()));
    }
  });
});

describe('load connections', () => {
  const TERMINAL = `id: 1\nevent: complete\ndata: {"generation_id":"g1","status":"completed","stage":"complete","progress":1,"message":"done","timestamp":1}\n\n`;

  /** A generations API on its own server; `streamOrigin` (if given) is where its stream URLs point. */
  async function startApi(streamOrigin: string | undefined) {
    const requestsBySocket = new Map<number, string[]>();
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const socket = req.socket.remotePort ?? 0;
      requestsBySocket.set(socket, [...(requestsBySocket.get(socket) ?? []), path.split('/').pop() ?? '']);
      if (path.endsWith('/generate')) {
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'g1', status: 'pending' }));
      } else if (path.endsWith('/stream-token')) {
        const streamUrl = `${streamOrigin ?? ''}/api/generations/generate/g1/stream?token=t`;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sse_token: 't', expires_in: 60, stream_url: streamUrl, generation_id: 'g1' }));
      } else {
        res.writeHead(200, { 'content-type': 'text/event-stream' }).end(TERMINAL);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { origin, requestsBySocket, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  const loadAgainst = (origin: string) =>
    runLoad({
      ...plan({ arrival: { kind: 'closed', clients: 5 }, maxRequests: 60 }),
      target: resolveTargetOptions({ baseUrl: `${origin}/api`, auth: 'load-user' }, {}, tmpdir()),
    });

  it('a virtual client sends its create, token and stream requests over one connection', async () => {
    const api = await startApi(undefined);
    try {
      const part = await loadAgainst(api.origin);
      expect(part.counters.flows).toBe(20);
      expect(part.responses.stream['200']).toBe(20);
      expect(part.counters.events).toBe(20);
      // The server ends each stream after its terminal event, so the connection carries the client's next flow too.
      const flow = ['generate', 'stream-token', 'stream'];
      expect([...api.requestsBySocket.values()]).toEqual(Array.from({ length: 5 }, () => [...flow, ...flow, ...flow, ...flow]));
    } finally {
      await api.close();
    }
  });

  it('a stream_url naming another origin is streamed from there', async () => {
    const streams = await startApi(undefined);
    const api = await startApi(streams.origin);
    try {
      const part = await loadAgainst(api.origin);
      expect(part.responses.stream['200']).toBe(20);
      expect(part.counters.events).toBe(20);
      expect([...api.requestsBySocket.values()].flat().filter((path) => path === 'stream')).toEqual([]);
      expect([...streams.requestsBySocket.values()].flat()).toEqual(Array.from({ length: 20 }, () => 'stream'));
    } finally {
      await Promise.all([api.close(), streams.close()]);
    }
  });
});

/** A one-process part of 2 s with `events` events; its lag defaults to `events` ms at p99 and max. */
function samplePart(startedAtEpochMs: number, events: number, lag = { p50: 1, p99: events, max: events }): LoadPart {
  const histogram = newHistogram();
  recordMs(histogram, events);
  const encoded = encodeHistogram(histogram);
  return {
    format: 'sse-doctor-load-part/1',
    shard: undefined,
    shardsMerged: [],
    processes: 1,
    startedAtEpochMs,
    durationMs: 2000,
    settings: { mode: 'streams', arrival: 'closed', clients: 5, ratePerSecond: 0, client: 'robust', target: 'x' },
    counters: { flows: 1, createRequests: 1, tokenRequests: 1, connections: 1, streamsOpened: 1, events, comments: 0, reconnects: 0 },
    peakOpenStreams: 1,
    responses: { create: { 201: 1 }, token: { 200: 1 }, stream: { 200: 1 } },
    errors: { reset: 1 },
    histograms: { tokenRequest: encoded, headers: encoded, firstEvent: encoded, gap: encoded, streamDuration: encoded },
    timeline: [
      { open: 1, events, tokenRequests: 1, responses: { 200: 1 }, errors: 0, firstEvent: encoded, tokenRequest: undefined },
      { open: 1, events: 0, tokenRequests: 0, responses: {}, errors: 1, firstEvent: undefined, tokenRequest: undefined },
    ],
    eventLoopLagMs: [lag],
    stoppedEarly: false,
  };
}

describe('merging parts', () => {
  it('merges histograms exactly: the merged percentiles are those of all values recorded in one', () => {
    const one = newHistogram();
    const halves = [newHistogram(), newHistogram()];
    for (let i = 1; i <= 2000; i++) {
      const ms = (i * 7919) % 1000;
      recordMs(one, ms);
      recordMs(halves[i % 2]!, ms);
    }
    const merged = newHistogram();
    merged.add(decodeHistogram(encodeHistogram(halves[0]!)));
    merged.add(decodeHistogram(encodeHistogram(halves[1]!)));
    expect(summarise(merged)).toEqual(summarise(one));
  });

  it('adds counters and responses, keeps the worst event-loop lag, and lines timelines up by second', () => {
    const merged = mergeParts([samplePart(10_000, 5), samplePart(11_000, 7)]);
    expect(merged.counters.events).toBe(12);
    expect(merged.settings.clients).toBe(10);
    expect(merged.responses.token).toEqual({ 200: 2 });
    expect(merged.errors).toEqual({ reset: 2 });
    expect(merged.timeline.map((second) => second.open)).toEqual([1, 2, 1]);
    expect(merged.peakOpenStreams).toBe(2);
    expect(merged.durationMs).toBe(3000);
    expect(decodeHistogram(merged.histograms.gap).totalCount).toBe(2);
    expect(buildLoadReport(merged, []).metrics.eventLoopLagMs.p99).toBe(7);
    expect(parsePart(JSON.stringify(merged), 'merged.json').counters.events).toBe(12);
    expect(() => parsePart('{"format":"other"}', 'x.json')).toThrow(/x\.json: not an sse-doctor load part/);
  });
  it("warns when the tool's own event loop lagged: a high p99, or one long stall", () => {
    const lagWarnings = (lag: { p50: number; p99: number; max: number }) =>
      buildLoadReport(samplePart(10_000, 5, lag), []).warnings.filter((warning) => warning.includes('event loop'));
    expect(lagWarnings({ p50: 1, p99: 20, max: 300 })).toEqual([]);
    expect(lagWarnings({ p50: 1, p99: 80, max: 300 })).toHaveLength(1);
    expect(lagWarnings({ p50: 1, p99: 20, max: 4500 })).toEqual([expect.stringMatching(/max 4500 ms/)]);
  });
});

describe('file-descriptor limit', () => {
  const limits = (openFiles: string) =>
    `Limit                     Soft Limit           Hard Limit           Units\nMax processes             unlimited            unlimited            processes\nMax open files            ${openFiles}                files\n`;

  it('reads the soft limit of /proc/self/limits', () => {
    expect(parseOpenFilesLimit(limits('20000                20000'))).toBe(20000);
    expect(parseOpenFilesLimit(limits('unlimited            unlimited'))).toBeUndefined();
    expect(parseOpenFilesLimit('')).toBeUndefined();
  });

  it('warns only when a process would need more sockets than it may open, and names the workers it takes', () => {
    expect(socketLimitWarning(19_500, 1, 20_000)).toBeUndefined();
    expect(socketLimitWarning(38_000, 2, 20_000)).toBeUndefined();
    expect(socketLimitWarning(25_000, 1, 20_000)).toMatch(/25000 clients per process .* may open 20000 files .*--workers 2 /);
    expect(socketLimitWarning(25_000, 1, undefined)).toBeUndefined();
  });

  it('counts a connection this process could not open as its own limit, not as the target closing it', () => {
    expect(errorKind({ kind: 'local-limit', code: 'EMFILE' })).toBe('local-limit');
    expect(errorKind({ kind: 'abrupt-close', code: 'UND_ERR_SOCKET' })).toBe('abrupt-close');
    expect(errorKind({ kind: 'reset', code: 'ECONNRESET' })).toBe('reset');
  });
});

describe('open-model schedule', () => {
  it.each([
    [0, 10, 0, 0],
    [5, 10, 0, 500],
    [1, 1000, 0, 1],
    // Ramp 0 -> 10/s over 2 s: 10 arrivals during the ramp, the k-th at sqrt(2 * 2000 * k / 0.01) ms.
    [1, 10, 2000, Math.sqrt(400_000)],
    [10, 10, 2000, 2000],
    [15, 10, 2000, 2500],
  ])('arrival %i at %i/s with a %i ms ramp is due at %f ms', (k, rate, ramp, expected) => {
    expect(intendedArrivalMs(k, rate, ramp)).toBeCloseTo(expected, 6);
  });
});

describe('thresholds', () => {
  it.each([
    ['p95(firstEvent)<500ms', { kind: 'latency', metric: 'firstEvent', stat: { percentile: 95 } }, '<', 500],
    ['p99.9(gap) <= 2s', { kind: 'latency', metric: 'gap', stat: { percentile: 99.9 } }, '<=', 2000],
    ['max(tokenRequest)<1s', { kind: 'latency', metric: 'tokenRequest', stat: 'max' }, '<', 1000],
    ['rate429<0.05', { kind: 'figure', figure: 'rate429' }, '<', 0.05],
    ['rate429 < 5%', { kind: 'figure', figure: 'rate429' }, '<', 0.05],
    ['peakOpenStreams>=10000', { kind: 'figure', figure: 'peakOpenStreams' }, '>=', 10000],
  ])('%s', (raw, subject, op, limit) => {
    expect(parseThreshold(raw)).toMatchObject({ subject, op, limit });
  });

  it.each([
    ['p95(firstEvent)', /not a threshold/],
    ['p95(latency)<5ms', /unknown latency "latency"/],
    ['p100(gap)<5ms', /percentile 100/],
    ['rate42<0.05', /unknown figure "rate42"/],
    ['rate429<5ms', /not a duration/],
    ['p95(gap)<5%', /a latency needs a unit: 5ms, 5s or 5m/],
    ['max(tokenRequest)<1000', /a latency needs a unit: 1000ms/],
  ])('rejects %s in one line', (raw, message) => {
    let error: unknown;
    try {
      parseThreshold(raw);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DoctorError);
    expect((error as DoctorError).exitCode).toBe(2);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });
});
