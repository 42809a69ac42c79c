import { CaseSlot } from './caseSlot.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../engine/clock.js';
import { escapeRegExp } from '../engine/contractEvents.js';
import { redactStreamUrl } from '../engine/secrets.js';
import type { ProfilePaths } from '../engine/target.js';
import { startFaultProxy } from '../proxy/faultProxy.js';
import type { Answer, JudgeCase, ScriptedEvent } from './cases.js';
import type { JudgePolicy } from './policy.js';
import type { CaseArena, CaseRun } from './runner.js';
import type { JudgedRequest, JudgedRequestKind } from './types.js';

/** The judge's API; its subjects are the generations the client starts. */
export interface JudgeArena extends CaseArena<JudgeCase> {
  readonly port: number;
  close(): Promise<void>;
}

export interface JudgeArenaOptions {
  /** The API the judge stands in front of: the reference server or `--target`. */
  readonly target: string;
  readonly port: number;
  readonly paths: ProfilePaths;
  readonly policy: JudgePolicy;
  readonly clock: Clock;
}

/** Beyond this a run stops recording (a storming client is proven by then), while answers go on. */
const MAX_RECORDED = 2000;

interface LiveRun extends CaseRun {
  readonly judgeCase: JudgeCase;
  readonly generationId: string;
  requests: JudgedRequest[];
  lastActivity: number;
  busy: number;
  tokenRequests: number;
  servedStreams: number;
  lastEventId: number;
  readonly tokens: Map<string, number>;
  readonly open: Set<ServerResponse>;
  finished: boolean;
}

/**
 * The judge's API: the fault proxy in front of the target, with a hook that binds each new
 * generation to the armed case, answers token and stream requests as the case scripts them,
 * forwards everything else, answers CORS for any origin, and records every request with times.
 */
export async function startJudgeArena(options: JudgeArenaOptions): Promise<JudgeArena> {
  const { clock, policy } = options;
  const basePath = new URL(options.target).pathname.replace(/\/+$/, '');
  const routes = routesOf(options.paths, basePath);
  const runs = new Map<string, LiveRun>();
  const slot = new CaseSlot<JudgeCase, LiveRun>();

  const intercept = (req: IncomingMessage, res: ServerResponse): boolean => {
    allowAnyOrigin(req, res);
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return true;
    }
    const url = new URL(req.url ?? '/', 'http://judge');
    const route = routes.find((candidate) => candidate.method === req.method && candidate.pattern.test(url.pathname));
    const generationId = route ? decodeURIComponent(route.pattern.exec(url.pathname)![1]!) : undefined;
    if (!route || generationId === undefined) return false;
    let run = runs.get(generationId);
    run ??= slot.take((judgeCase) => {
      const started = newRun(judgeCase, generationId, clock.now());
      runs.set(generationId, started);
      return started;
    });
    if (!run) return false;
    return handle(run, route.kind, req, res, url);
  };

  const handle = (run: LiveRun, kind: JudgedRequestKind, req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    const now = clock.now();
    const token = url.searchParams.get('token') ?? undefined;
    let tokenIndex: number | undefined;
    const reused = token !== undefined && run.tokens.has(token);
    if (token !== undefined && kind === 'stream') {
      if (!reused) run.tokens.set(token, run.tokens.size + 1);
      tokenIndex = run.tokens.get(token);
    }
    let answer: Answer = { kind: 'forward' };
    if (kind === 'token') answer = run.judgeCase.token(++run.tokenRequests, policy);
    if (kind === 'stream') {
      if (token === undefined) answer = { kind: 'refuse', status: 422, detail: 'token: Field required', stops: true };
      else if (reused) answer = { kind: 'refuse', status: 401, detail: 'Invalid or expired stream token', stops: false };
      else answer = run.judgeCase.stream(++run.servedStreams, policy);
    }
    const request: JudgedRequest = {
      seq: run.requests.length + 1,
      kind,
      method: req.method ?? 'GET',
      path: redactStreamUrl(`http://judge${url.pathname}${url.search}`).slice('http://judge'.length),
      t: now - run.startedAt,
      endT: undefined,
      status: undefined,
      token: tokenIndex,
      lastEventId: lastEventIdOf(req, url),
      answer: describeAnswer(answer),
      events: 0,
      lastEventT: undefined,
      retryAfterMs: undefined,
      stopSignal: answer.kind === 'refuse' && answer.stops ? `${answer.status}` : undefined,
    };
    const recording = !run.finished && run.requests.length < MAX_RECORDED;
    if (recording) run.requests.push(request);
    run.lastActivity = now;
    run.open.add(res);
    const held = answer.kind === 'stream' && answer.then === 'hold';
    if (!held) run.busy++;
    res.on('close', () => {
      run.open.delete(res);
      if (!held) run.busy--;
      const end = clock.now();
      run.lastActivity = end;
      request.endT ??= end - run.startedAt;
      request.status = res.statusCode;
      const retryAfter = Number(res.getHeader('retry-after'));
      if (res.statusCode === 429 && Number.isFinite(retryAfter) && String(res.getHeader('retry-after') ?? '').trim() !== '') request.retryAfterMs = retryAfter * 1000;
    });
    if (answer.kind === 'forward') return false;
    if (answer.kind === 'refuse') {
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (answer.retryAfterSeconds !== undefined) headers['Retry-After'] = String(answer.retryAfterSeconds);
      res.writeHead(answer.status, headers).end(JSON.stringify({ detail: answer.detail }));
      request.endT = clock.now() - run.startedAt;
      return true;
    }
    playStream(run, request, answer, res);
    return true;
  };

  const playStream = (run: LiveRun, request: JudgedRequest, answer: Extract<Answer, { kind: 'stream' }>, res: ServerResponse) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    // Well inside the client's silence threshold, so only the `silence` case is ever silent.
    const tickMs = Math.min(250, Math.max(20, policy.silenceMs / 10));
    let index = 0;
    const next = () => {
      if (res.destroyed) return;
      const event = answer.events[index++];
      if (event) {
        res.write(frame(run, event));
        request.events++;
        request.lastEventT = clock.now() - run.startedAt;
        if (isStop(event)) request.stopSignal = `${event.status} terminal event`;
        timer = setTimeout(next, tickMs);
        return;
      }
      if (answer.then === 'hold') return;
      // Timed here, not when 'close' comes round: on a busy machine that callback runs late and shortens the next wait.
      request.endT = clock.now() - run.startedAt;
      if (answer.then === 'end') res.end();
      else res.socket?.destroy();
    };
    let timer = setTimeout(next, 0);
    res.on('close', () => clearTimeout(timer));
  };

  const frame = (run: LiveRun, event: ScriptedEvent): string => {
    const data = {
      generation_id: run.generationId,
      status: event.status,
      stage: event.stage,
      progress: event.progress,
      message: event.message,
      timestamp: Date.now() / 1000,
    };
    const id = event.id ? `id: ${++run.lastEventId}\n` : '';
    const type = event.type ? `event: ${event.type}\n` : '';
    return `${id}${type}data: ${JSON.stringify(data)}\n\n`;
  };

  const proxy = await startFaultProxy({ target: options.target, port: options.port, rules: { reset: false, latencyMs: 0, bufferMs: 0 }, clock, intercept });

  return {
    url: proxy.url,
    port: proxy.port,
    arm: (judgeCase, signal) => slot.arm(judgeCase, signal),
    finish: (run) => {
      const live = runs.get(run.subject);
      if (!live) return;
      live.finished = true;
      for (const res of live.open) res.destroy();
    },
    close: () => proxy.close(),
  };
}

function newRun(judgeCase: JudgeCase, generationId: string, now: number): LiveRun {
  return {
    judgeCase,
    generationId,
    subject: generationId,
    startedAt: now,
    requests: [],
    lastActivity: now,
    busy: 0,
    tokenRequests: 0,
    servedStreams: 0,
    lastEventId: 0,
    tokens: new Map(),
    open: new Set(),
    finished: false,
  };
}

const isStop = (event: ScriptedEvent) => ['completed', 'failed', 'cancelled'].includes(event.status);

function describeAnswer(answer: Answer): string {
  if (answer.kind === 'forward') return 'forwarded';
  if (answer.kind === 'stream') return answer.label;
  return answer.retryAfterSeconds === undefined ? `${answer.status}` : `${answer.status} with Retry-After: ${answer.retryAfterSeconds}`;
}

/** A browser's EventSource sends the header only on its own reconnects; pages that open a new one use the query. */
function lastEventIdOf(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers['last-event-id'];
  const value = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('lastEventId') ?? url.searchParams.get('last_event_id') ?? undefined;
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Pages are served from another origin than the API, as in production behind a CDN. */
function allowAnyOrigin(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Expose-Headers', 'Retry-After, X-Trace-ID');
  if (req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', req.headers['access-control-request-headers'] ?? 'Authorization, Content-Type, Last-Event-ID');
    res.setHeader('Access-Control-Max-Age', '600');
  }
}

interface Route {
  readonly kind: JudgedRequestKind;
  readonly method: string;
  readonly pattern: RegExp;
}

/** The profile's token, stream and status paths as patterns whose one group is the generation id. */
function routesOf(paths: ProfilePaths, basePath: string): Route[] {
  const pattern = (path: string) => new RegExp(`^${escapeRegExp(basePath + path).replace(escapeRegExp('{id}'), '([^/]+)')}$`);
  return [
    { kind: 'token', method: 'POST', pattern: pattern(paths.token) },
    { kind: 'stream', method: 'GET', pattern: pattern(paths.stream) },
    { kind: 'status', method: 'GET', pattern: pattern(paths.status) },
  ];
}
