import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { IncomingHttpHeaders } from 'node:http';
import { createParser } from 'eventsource-parser';
import { Client, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReferenceServer } from '../src/server/referenceServer.js';
import { SharedStateUnavailable, type SharedState } from '../src/server/sharedState.js';
import { runCli, startCli, type CliRun } from './helpers/cli.js';

const PROMPT = 'Write a haiku about event streams';
const FAILING_PROMPT = 'Please fail this generation on purpose';
const SIMULATED_ERROR = 'Model returned malformed output (simulated failure)';
/** Served by the workers with `--generation 1500ms`: progress, six chunks, complete. */
const ALL_IDS = [1, 2, 3, 4, 5, 6, 7, 8];

/** One worker of a running `serve --workers 2`. */
interface Worker {
  readonly baseUrl: string;
  /** Its `X-Served-By`. */
  readonly name: 'worker-1' | 'worker-2';
}

interface RunningServe {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<CliRun>;
  readonly baseUrl: string;
  readonly workerPids: number[];
  stderr(): string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the built `serve --workers 2`; resolves once its base URL is on stdout and both workers have said their PID. */
async function startServe(args: string[]): Promise<RunningServe> {
  const { child, exited } = startCli(['serve', '--port', '0', '--workers', '2', ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let waited = 0; !stdout.includes('\n') || workerPids(stderr).length < 2; waited += 20) {
    if (waited > 10_000) {
      child.kill('SIGTERM');
      throw new Error(`serve did not start: ${stderr}`);
    }
    await sleep(20);
  }
  return { child, exited, baseUrl: stdout.split('\n')[0] ?? '', workerPids: workerPids(stderr), stderr: () => stderr };
}

/** The PIDs of the workers that said they listen, in that order. */
function workerPids(stderr: string): number[] {
  return [...stderr.matchAll(/^worker \d pid (\d+) listening$/gm)].map((match) => Number(match[1]));
}

let server: RunningServe;
beforeAll(async () => {
  server = await startServe(['--generation', '1500ms', '--heartbeat', '300ms', '--rate-limit', '3', '--verbose']);
});
afterAll(async () => {
  server.child.kill('SIGTERM');
  await server.exited;
});

function workersOf(target: RunningServe): [Worker, Worker] {
  return [
    { baseUrl: target.baseUrl, name: 'worker-1' },
    { baseUrl: target.baseUrl, name: 'worker-2' },
  ];
}

/**
 * A keep-alive connection served by `worker`: round-robin hands each new connection to the next
 * worker, so a few fresh ones reach it, and the connection then stays with it.
 */
async function connectionTo(worker: Worker): Promise<Client> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const client = new Client(new URL(worker.baseUrl).origin);
    const probe = await client.request({ method: 'GET', path: '/api/nowhere' });
    await probe.body.dump();
    if (probe.headers['x-served-by'] === worker.name) return client;
    await client.close();
  }
  throw new Error(`no connection reached ${worker.name}`);
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: any;
}

/** One JSON request as alice (unless `user` says otherwise) on a connection served by `worker`. */
async function call(worker: Worker, method: 'GET' | 'POST', path: string, options: { body?: unknown; user?: string } = {}): Promise<Reply> {
  const client = await connectionTo(worker);
  try {
    const headers: Record<string, string> = { authorization: `Bearer ${options.user ?? 'alice'}` };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const reply = await client.request({ method, path: `/api${path}`, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const text = await reply.body.text();
    expect(reply.headers['x-served-by']).toBe(worker.name);
    return { status: reply.statusCode, headers: reply.headers, body: text === '' ? undefined : JSON.parse(text) };
  } finally {
    await client.close();
  }
}

async function create(worker: Worker, prompt = PROMPT): Promise<string> {
  const reply = await call(worker, 'POST', '/generations/generate', { body: { prompt } });
  expect(reply.status).toBe(201);
  return reply.body.id as string;
}

function requestToken(worker: Worker, id: string): Promise<Reply> {
  return call(worker, 'POST', `/generations/generate/${id}/stream-token`);
}

async function token(worker: Worker, id: string): Promise<string> {
  const reply = await requestToken(worker, id);
  expect(reply.status).toBe(200);
  return reply.body.sse_token as string;
}

interface StreamRead {
  readonly status: number;
  readonly events: { id: number | undefined; type: string | undefined; data: any }[];
  /** `eof`: a clean end; `cut`: the connection dropped mid-body; `stopped`: we left at `stopAfterId`. */
  readonly ending: 'eof' | 'cut' | 'stopped';
}

/** Reads a stream served by `worker` to its end, or until the event with id `stopAfterId`. */
async function readStream(worker: Worker, id: string, sseToken: string, options: { lastEventId?: number; stopAfterId?: number } = {}): Promise<StreamRead> {
  const client = await connectionTo(worker);
  const controller = new AbortController();
  try {
    const headers: Record<string, string> = options.lastEventId === undefined ? {} : { 'last-event-id': String(options.lastEventId) };
    const reply = await client.request({ method: 'GET', path: `/api/generations/generate/${id}/stream?token=${sseToken}`, headers, signal: controller.signal });
    expect(reply.headers['x-served-by']).toBe(worker.name);
    const events: StreamRead['events'] = [];
    const parser = createParser({
      onEvent: (event) => {
        events.push({ id: event.id === undefined ? undefined : Number(event.id), type: event.event, data: JSON.parse(event.data) });
        if (options.stopAfterId !== undefined && event.id === String(options.stopAfterId)) controller.abort();
      },
    });
    let ending: StreamRead['ending'] = 'eof';
    try {
      for await (const chunk of reply.body) parser.feed((chunk as Buffer).toString('utf8'));
    } catch {
      ending = controller.signal.aborted ? 'stopped' : 'cut';
    }
    return { status: reply.statusCode, events, ending };
  } finally {
    await client.destroy();
  }
}

const ids = (read: StreamRead) => read.events.flatMap((event) => (event.id === undefined ? [] : [event.id]));

describe('serve --workers 2 behaves as one server', () => {
  let w1: Worker;
  let w2: Worker;
  beforeAll(() => {
    [w1, w2] = workersOf(server);
  });

  it('creates on one worker, reports, issues a token and streams to the end on the other', async () => {
    const id = await create(w1);
    const status = await call(w2, 'GET', `/generations/${id}`);
    expect(status.status).toBe(200);
    expect(['pending', 'processing']).toContain(status.body.status);
    const sseToken = await token(w2, id);
    const stream = await readStream(w1, id, sseToken);
    expect(stream.status).toBe(200);
    expect(stream.events[0]?.data).toMatchObject({ generation_id: id, stage: 'connected' });
    expect(ids(stream)).toEqual(ALL_IDS);
    expect(stream.events.at(-1)).toMatchObject({ type: 'complete', data: { status: 'completed', stage: 'complete', progress: 1 } });
    expect(stream.ending).toBe('eof');
    expect((await call(w2, 'GET', `/generations/${id}`)).body).toMatchObject({ status: 'completed', progress: 1 });
    expect(server.stderr()).toMatch(/^worker-1 POST \/api\/generations\/generate 201 \d+ms$/m);
    expect(server.stderr()).toMatch(/^worker-2 POST \/api\/generations\/generate\/[^/]+\/stream-token 200 \d+ms$/m);
  });

  it('spends a token once, whichever worker it is used on', async () => {
    const id = await create(w1);
    const sseToken = await token(w1, id);
    const first = await readStream(w2, id, sseToken, { stopAfterId: 1 });
    expect(first.status).toBe(200);
    expect((await readStream(w2, id, sseToken)).status).toBe(401);
    expect((await readStream(w1, id, sseToken)).status).toBe(401);
  });

  it('shares the rate limit: the 4th token request is refused with Retry-After on any worker', async () => {
    const id = await create(w2);
    for (const worker of [w1, w2, w1]) expect((await requestToken(worker, id)).status).toBe(200);
    for (const worker of [w2, w1]) {
      const limited = await requestToken(worker, id);
      expect(limited.status).toBe(429);
      expect(limited.body.detail).toMatch(/^Too many token requests\. Maximum 3 requests per minute/);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    }
  });

  it('resumes on the other worker after Last-Event-ID, without a duplicate or a gap', async () => {
    const id = await create(w1);
    const first = await readStream(w1, id, await token(w2, id), { stopAfterId: 3 });
    expect(ids(first)).toEqual([1, 2, 3]);
    const resumed = await readStream(w2, id, await token(w1, id), { lastEventId: 3 });
    expect(resumed.events[0]?.data.stage).toBe('connected');
    expect(ids(resumed)).toEqual([4, 5, 6, 7, 8]);
    expect(resumed.events.at(-1)?.type).toBe('complete');
    expect(resumed.ending).toBe('eof');
  });

  it('fails a failing prompt on every worker: status failed, then 400 for a token', async () => {
    const id = await create(w2, FAILING_PROMPT);
    for (let waited = 0; (await call(w1, 'GET', `/generations/${id}`)).body.status !== 'failed'; waited += 100) {
      if (waited > 5000) throw new Error('the generation never failed');
      await sleep(100);
    }
    expect((await call(w2, 'GET', `/generations/${id}`)).body).toMatchObject({ status: 'failed', error_message: SIMULATED_ERROR });
    for (const worker of [w1, w2]) {
      expect(await requestToken(worker, id)).toMatchObject({
        status: 400,
        body: { detail: `Generation has failed. Error: ${SIMULATED_ERROR}. Cannot stream.` },
      });
    }
  });
});

describe('serve --workers 2 with a fault', () => {
  it('drop-mid-stream cuts only the first stream of a generation, whichever worker serves the next', async () => {
    const faulty = await startServe(['--generation', '1500ms', '--fault', 'drop-mid-stream']);
    const [w1, w2] = workersOf(faulty);
    try {
      const id = await create(w1);
      const first = await readStream(w2, id, await token(w1, id));
      expect(first.ending).toBe('cut');
      expect(ids(first)).toEqual([1]);
      const resumed = await readStream(w1, id, await token(w2, id), { lastEventId: 1 });
      expect(ids(resumed)).toEqual([2, 3, 4, 5, 6, 7, 8]);
      expect(resumed.ending).toBe('eof');
    } finally {
      faulty.child.kill('SIGTERM');
      await faulty.exited;
    }
  });
});

describe('serve --workers: flag and lifecycle', () => {
  it.each(['0', 'abc', '-1', '1.5'])('--workers %s is a one-line usage error (exit 2)', async (workers) => {
    const run = await runCli(['serve', '--port', '0', '--workers', workers]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`sse-doctor: option '--workers <n>' argument '${workers}' is invalid. expected a whole number >= 1 (see --help)\n`);
    expect(run.stdout).toBe('');
  });

  it('replaces a worker that dies, and stops every worker when the CLI gets SIGTERM', async () => {
    const target = await startServe([]);
    expect(target.workerPids).toHaveLength(2);
    for (const pid of target.workerPids) expect(isRunning(pid)).toBe(true);

    const [lost] = target.workerPids as [number];
    process.kill(lost, 'SIGKILL');
    for (let waited = 0; workerPids(target.stderr()).length < 3; waited += 20) {
      if (waited > 10_000) throw new Error(`no replacement: ${target.stderr()}`);
      await sleep(20);
    }
    expect(target.stderr()).toMatch(new RegExp(`^worker \\d \\(pid ${lost}\\) exited unexpectedly with signal SIGKILL; starting a replacement$`, 'm'));
    for (const worker of workersOf(target)) await (await connectionTo(worker)).close();

    target.child.kill('SIGTERM');
    const run = await target.exited;
    expect(run.code).toBe(0);
    for (const pid of workerPids(run.stderr)) expect(isRunning(pid)).toBe(false);
  });
});

describe('a worker whose primary does not answer', () => {
  it('answers 503, never hangs nor 500', async () => {
    const gone = async (): Promise<never> => {
      throw new SharedStateUnavailable('the primary did not answer within 10 s');
    };
    const state: SharedState = { createGeneration: gone, generation: gone, issueToken: gone, redeemToken: gone, checkRate: gone, countStream: gone };
    const target = await startReferenceServer({ sharedState: state, servedBy: 'worker-1' });
    try {
      const reply = await request(`${target.baseUrl}/generations/generate`, {
        method: 'POST',
        headers: { authorization: 'Bearer alice', 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: PROMPT }),
      });
      expect(reply.statusCode).toBe(503);
      expect(reply.headers['x-served-by']).toBe('worker-1');
      expect(await reply.body.json()).toEqual({ detail: 'Service Unavailable' });
    } finally {
      await target.close();
    }
  });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
