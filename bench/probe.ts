import { setMaxListeners } from 'node:events';
import { createParser } from 'eventsource-parser';
import { Client, Pool, request, type Dispatcher } from 'undici';
import { runLoad } from '../src/load/runner.js';
import { loopbackSourceNetwork, type LoadPlan } from '../src/load/plan.js';
import { resolveTargetOptions } from '../src/options/options.js';

/**
 * One measurement in its own process (so RSS and CPU time belong to it alone), for
 * `bench/run.ts`. `tool-*` runs sse-doctor's load runner with full bookkeeping; `raw-*` is the
 * baseline: undici `request()` + eventsource-parser and nothing else. Prints one JSON line.
 */
export type ProbeTask =
  | {
      kind: 'tool-hold' | 'raw-hold';
      baseUrl: string;
      /** A stream URL to open directly (the generic profile) instead of the full create/token/stream flow. */
      streamUrl?: string;
      streams: number;
      /**
       * Streams opened after the first `streams` are held and measured: RSS per stream is then
       * also read as the cost of these extra streams alone (see `marginalRssPerStreamKiB`).
       */
      extraStreams?: number;
      rampMs: number;
      timeoutMs: number;
      workers?: number;
    }
  | { kind: 'tool-slow' | 'raw-slow'; url: string; clients: number; durationMs: number; warmupMs: number }
  | { kind: 'tool-fast' | 'raw-fast'; url: string; durationMs: number }
  | { kind: 'tool-spam' | 'raw-spam'; baseUrl: string; connections: number; durationMs: number }
  /** The baseline of the peak-RSS figure: `streams` held for `durationMs`, as `load --url --clients N` holds them (its peak is read by `peakRss.ts`). */
  | { kind: 'raw-peak'; url: string; streams: number; durationMs: number };

export interface ProbeResult {
  opened?: number;
  openMs?: number;
  /** RSS growth from the start over the streams open: the process's fixed costs (its young generation grown to full size, compiled code) are charged to the streams. */
  rssPerStreamKiB?: number;
  /** What each stream past the first `streams` added to RSS: the cost of one more open stream. */
  marginalRssPerStreamKiB?: number;
  events?: number;
  requests?: number;
  cpuMs: number;
  wallMs: number;
}

const AUTH = 'bench-user';
const PROMPT = 'Write a short poem about resilient streams.';
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/**
 * Steady state for an RSS reading: one full GC leaves the old space's pages unswept and
 * fragmented by the burst's garbage (RSS then reads about 40% high); a few collections with time
 * for the concurrent sweeper between them let V8 compact and return the pages, as it would over
 * a long run. Tool and baseline are measured alike.
 */
async function settleHeap(): Promise<void> {
  for (let round = 0; round < 8; round++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function plan(baseUrl: string, overrides: Partial<LoadPlan> & Pick<LoadPlan, 'arrival' | 'durationMs'>): LoadPlan {
  const target = resolveTargetOptions({ baseUrl, auth: AUTH }, {}, '/');
  return { target, mode: 'streams', rampMs: 0, maxRequests: undefined, ids: undefined, client: 'robust', sourceNetwork: loopbackSourceNetwork(target, 0), ...overrides };
}

async function rawJson(dispatcher: Dispatcher, url: string, method: 'POST', body?: unknown): Promise<Record<string, unknown>> {
  const response = await request(url, {
    method,
    dispatcher,
    headers: { authorization: `Bearer ${AUTH}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return (await response.body.json()) as Record<string, unknown>;
}

/** The baseline's whole flow: create and token (unless given a stream URL), then the stream to its end. */
async function rawFlow(dispatcher: Dispatcher, baseUrl: string, directUrl: string | undefined, signal: AbortSignal, onOpen: () => void): Promise<void> {
  let streamUrl = directUrl;
  if (streamUrl === undefined) {
    const created = await rawJson(dispatcher, `${baseUrl}/generations/generate`, 'POST', { prompt: PROMPT });
    const token = await rawJson(dispatcher, `${baseUrl}/generations/generate/${created.id}/stream-token`, 'POST');
    streamUrl = new URL(String(token.stream_url), `${baseUrl}/`).href;
  }
  await rawStream(streamUrl, signal, () => {}, dispatcher, onOpen);
}

/** The baseline's stream: request, parse, count, until the stream ends or `signal` stops it. */
async function rawStream(url: string, signal: AbortSignal, onEvent: () => void, dispatcher?: Dispatcher, onOpen?: () => void): Promise<void> {
  const response = await request(url, { dispatcher, signal, headers: { accept: 'text/event-stream' }, bodyTimeout: 0 });
  onOpen?.();
  const parser = createParser({ onEvent });
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body) parser.feed(decoder.decode(chunk as Buffer, { stream: true }));
  } catch {
    // Stopped by `signal`: the end of the measurement.
  }
}

/** Where the steady part of a throughput run starts: the first seconds (connects, JIT warm-up) are not throughput. */
interface SteadyStart {
  readonly cpu: NodeJS.CpuUsage;
  readonly wall: number;
  readonly events: number;
}

function steadyStart(events: number): SteadyStart {
  return { cpu: process.cpuUsage(), wall: performance.now(), events };
}

function steadyResult(start: SteadyStart | undefined, events: number): ProbeResult {
  if (start === undefined) throw new Error('the run ended before its warm-up did');
  const cpu = process.cpuUsage(start.cpu);
  return { events: events - start.events, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - start.wall };
}

async function probe(task: ProbeTask): Promise<ProbeResult> {
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  const done = (result: Omit<ProbeResult, 'cpuMs' | 'wallMs'>): ProbeResult => {
    const cpu = process.cpuUsage(cpuStart);
    return { ...result, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - wallStart };
  };
  switch (task.kind) {
    case 'tool-hold':
    case 'raw-hold': {
      gc();
      const rssBefore = process.memoryUsage.rss();
      const stop = new AbortController();
      setMaxListeners(0, stop.signal);
      let open = 0;
      let target = 0;
      let allOpen = () => {};
      const opened = (now: number) => {
        open = now;
        if (open >= target) allOpen();
      };
      /** Opens `count` more streams (clients numbered from `first`); resolves with the time all took, or undefined at the time limit. */
      const openMore = (first: number, count: number): Promise<number | undefined> => {
        const started = performance.now();
        target = first + count;
        const done = new Promise<number | undefined>((resolve) => {
          allOpen = () => resolve(performance.now() - started);
          setTimeout(() => resolve(undefined), task.timeoutMs);
        });
        if (task.kind === 'tool-hold') {
          const flowPlan = plan(task.baseUrl, { arrival: { kind: 'closed', clients: count }, durationMs: task.timeoutMs * 2 + 30_000, rampMs: task.rampMs });
          const loadPlan = task.streamUrl ? { ...flowPlan, target: resolveTargetOptions({ url: task.streamUrl }, {}, '/') } : flowPlan;
          if (task.workers && task.workers > 1) {
            void import('../src/load/workers.js').then(({ runWorkers }) =>
              runWorkers(loadPlan, task.workers as number, { signal: stop.signal, onSecond: (snapshot) => opened(first + snapshot.open) }).catch(() => {}),
            );
          } else {
            void runLoad(loadPlan, { signal: stop.signal, onStreamOpened: (now) => opened(first + now) });
          }
        } else {
          // Like the tool: one connection per client, spread over loopback source addresses.
          const origin = new URL(task.streamUrl ?? task.baseUrl).origin;
          for (let client = first; client < first + count; client++) {
            const dispatcher = new Client(origin, { localAddress: `127.0.0.${1 + (client % 250)}` });
            const start = () => void rawFlow(dispatcher, task.baseUrl, task.streamUrl, stop.signal, () => opened(open + 1)).catch(() => {});
            if (task.rampMs > 0) setTimeout(start, (task.rampMs * (client - first)) / count);
            else start();
          }
        }
        return done;
      };
      /** RSS in steady state, once the streams just opened have settled. */
      const settledRss = async () => {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await settleHeap();
        return process.memoryUsage.rss();
      };
      const openMs = await openMore(0, task.streams);
      const firstOpen = open;
      const rss = await settledRss();
      let marginalRssPerStreamKiB: number | undefined;
      if (task.extraStreams) {
        await openMore(firstOpen, task.extraStreams);
        const extraOpen = open - firstOpen;
        if (extraOpen > 0) marginalRssPerStreamKiB = ((await settledRss()) - rss) / 1024 / extraOpen;
      }
      const result = done({ opened: firstOpen, openMs, rssPerStreamKiB: firstOpen > 0 ? (rss - rssBefore) / 1024 / firstOpen : undefined, marginalRssPerStreamKiB });
      stop.abort();
      return result;
    }
    case 'tool-slow': {
      const target = resolveTargetOptions({ url: task.url }, {}, '/');
      let steady: SteadyStart | undefined;
      const part = await runLoad(
        { ...plan(task.url, { arrival: { kind: 'closed', clients: task.clients }, durationMs: task.durationMs }), target },
        // The snapshot is taken as the second closes, so its count is exact at this moment.
        { onSecond: (snapshot) => (steady ??= snapshot.elapsedMs >= task.warmupMs ? steadyStart(snapshot.events) : undefined) },
      );
      return steadyResult(steady, part.counters.events);
    }
    case 'raw-slow': {
      const stop = AbortSignal.timeout(task.durationMs);
      setMaxListeners(0, stop);
      let events = 0;
      let steady: SteadyStart | undefined;
      setTimeout(() => (steady = steadyStart(events)), task.warmupMs);
      const origin = new URL(task.url).origin;
      // Like the tool: one keep-alive connection per client.
      const loop = async () => {
        const dispatcher = new Client(origin);
        while (!stop.aborted) await rawStream(task.url, stop, () => events++, dispatcher).catch(() => {});
        await dispatcher.destroy();
      };
      await Promise.all(Array.from({ length: task.clients }, loop));
      return steadyResult(steady, events);
    }
    case 'raw-peak': {
      const stop = AbortSignal.timeout(task.durationMs);
      setMaxListeners(0, stop);
      let opened = 0;
      const origin = new URL(task.url).origin;
      await Promise.all(
        Array.from({ length: task.streams }, (_, client) => {
          const dispatcher = new Client(origin, { localAddress: `127.0.0.${1 + (client % 250)}` });
          return rawStream(task.url, stop, () => {}, dispatcher, () => opened++).catch(() => {});
        }),
      );
      return done({ opened });
    }
    case 'tool-fast': {
      const target = resolveTargetOptions({ url: task.url }, {}, '/');
      const part = await runLoad({ ...plan(task.url, { arrival: { kind: 'closed', clients: 1 }, durationMs: task.durationMs }), target });
      return done({ events: part.counters.events });
    }
    case 'raw-fast': {
      let events = 0;
      await rawStream(task.url, AbortSignal.timeout(task.durationMs), () => events++);
      return done({ events });
    }
    case 'tool-spam': {
      const part = await runLoad({ ...plan(task.baseUrl, { arrival: { kind: 'closed', clients: task.connections }, durationMs: task.durationMs }), mode: 'token-spam' });
      return done({ requests: part.counters.tokenRequests });
    }
    case 'raw-spam': {
      const origin = new URL(task.baseUrl).origin;
      const basePath = new URL(task.baseUrl).pathname;
      const pool = new Pool(origin, { connections: task.connections, pipelining: 1 });
      const created = await rawJson(pool, `${task.baseUrl}/generations/generate`, 'POST', { prompt: PROMPT });
      const path = `${basePath}/generations/generate/${created.id}/stream-token`;
      const endsAt = performance.now() + task.durationMs;
      let requests = 0;
      const loop = async () => {
        while (performance.now() < endsAt) {
          const response = await pool.request({ method: 'POST', path, headers: { authorization: `Bearer ${AUTH}` } });
          await response.body.text();
          requests++;
        }
      };
      await Promise.all(Array.from({ length: task.connections }, loop));
      await pool.close();
      return done({ requests });
    }
  }
}

const result = await probe(JSON.parse(process.argv[2] ?? '{}') as ProbeTask);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
