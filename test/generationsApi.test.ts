import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerationsApi, answerError } from '../src/engine/generationsApi.js';
import { waitForStatus } from '../src/engine/statusWait.js';
import { RefusedError, UnreachableError } from '../src/errors.js';
import { resolveTargetOptions } from '../src/options/options.js';
import { startReferenceServer, type ReferenceServer } from '../src/server/referenceServer.js';
import { manualClock, virtualClock } from './helpers/clocks.js';
import { startMisbehavingServer, type MisbehavingServer } from './helpers/misbehaving.js';
import { runCli } from './helpers/cli.js';

/** Generations that stay `processing` for a minute: long past any wait below. */
let reference: ReferenceServer;
/** A create endpoint whose body a test sets, and a status endpoint that never answers. */
let odd: MisbehavingServer;
let createAnswer: { status: number; body: string };
/** The open response of `/api/generations/g2`, its body begun: a test writes the rest when its clock says so. */
let slowBody: ServerResponse | undefined;
beforeAll(async () => {
  reference = await startReferenceServer({ port: 0, timings: { generationMs: 60_000 } });
  odd = await startMisbehavingServer({
    '/api/generations/generate': (_req, res) => res.writeHead(createAnswer.status, { 'content-type': 'application/json' }).end(createAnswer.body),
    '/api/generations/g1': () => undefined,
    '/api/generations/g2': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"status": ');
      slowBody = res;
    },
  });
});
afterAll(async () => {
  await reference.close();
  await odd.close();
});

const referenceApi = (clock = virtualClock()) => new GenerationsApi(resolveTargetOptions({ baseUrl: reference.baseUrl, auth: 'alice' }, {}, tmpdir()), { clock });
const oddApi = (clock = virtualClock()) => new GenerationsApi({ ...resolveTargetOptions({ baseUrl: odd.url('/api'), auth: 'alice' }, {}, tmpdir()), headersTimeoutMs: 5000 }, { clock });

async function createdId(api: GenerationsApi): Promise<string> {
  const created = await api.create('a prompt long enough to pass');
  if (!created.ok) throw new Error('the reference server refused a create');
  return created.id;
}

describe('create: one typed answer', () => {
  it('an id the server sent as a JSON number is the same id as a string', async () => {
    createAnswer = { status: 201, body: '{"id": 42, "status": "pending"}' };
    expect(await oddApi().create('a prompt long enough')).toMatchObject({ ok: true, id: '42' });
  });

  it.each([
    ['{"status": "pending"}', 'create endpoint answered 201 but id is missing'],
    ['{"id": ""}', 'create endpoint answered 201 but id is an empty string'],
    ['{"id": [1]}', 'create endpoint answered 201 but id is an array'],
    ['[]', 'create endpoint answered 201 but its body is JSON an array, not an object'],
    ['<html>', 'create endpoint answered 201 but its body is not JSON'],
  ])('a 201 with %s is unusable', async (body, unusable) => {
    createAnswer = { status: 201, body };
    expect(await oddApi().create('a prompt long enough')).toMatchObject({ ok: false, unusable });
  });

  it('a refusal carries the detail, and maps to a RefusedError (exit 2) naming the URL', async () => {
    createAnswer = { status: 401, body: '{"detail": "Not authenticated"}' };
    const api = oddApi();
    const created = await api.create('a prompt long enough');
    expect(created).toMatchObject({ ok: false, detail: 'Not authenticated' });
    if (created.ok) return;
    const error = answerError(created, 'create', api.url('create'), 'check --auth');
    expect(error).toBeInstanceOf(RefusedError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`the create endpoint answered 401 Not authenticated (${api.url('create')}; check --auth)`);
  });

  it('no answer at all maps to an UnreachableError (exit 3)', async () => {
    const dead = await startMisbehavingServer({});
    const url = dead.url('/api');
    await dead.close();
    const api = new GenerationsApi(resolveTargetOptions({ baseUrl: url, auth: 'alice' }, {}, tmpdir()));
    const created = await api.create('a prompt long enough');
    expect(created).toMatchObject({ ok: false, failure: { failure: 'unreachable' } });
    if (created.ok) return;
    const error = answerError(created, 'create', api.url('create'), 'check --auth');
    expect(error).toBeInstanceOf(UnreachableError);
    expect(error.exitCode).toBe(3);
  });

  it('tail maps a refused create to one line and exit 2', async () => {
    createAnswer = { status: 403, body: '{"detail": "Forbidden"}' };
    const run = await runCli(['tail', '--base-url', odd.url('/api'), '--auth', 'alice']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('the create endpoint answered 403 Forbidden');
  });
});

describe('waitForStatus, the one status poller, on a virtual clock', () => {
  it('returns at once when the status is already one asked for', async () => {
    const clock = virtualClock();
    const api = referenceApi(clock);
    const wait = await waitForStatus(api, await createdId(api), ['pending', 'processing'], { clock, deadline: 1000 });
    expect(wait).toMatchObject({ reached: true });
    expect(clock.sleeps).toEqual([]);
  });

  it('polls after 50, 100, 200, 400 ms and never sleeps past the deadline', async () => {
    const clock = virtualClock();
    const api = referenceApi(clock);
    const wait = await waitForStatus(api, await createdId(api), ['completed'], { clock, deadline: 1000 });
    expect(wait).toMatchObject({ reached: false, why: 'deadline', last: { status: expect.stringMatching(/^(pending|processing)$/) } });
    expect(clock.sleeps).toEqual([50, 100, 200, 400, 250]);
    expect(clock.now()).toBe(1000);
  });

  it('pauses at most 500 ms between polls', async () => {
    const clock = virtualClock();
    const api = referenceApi(clock);
    await waitForStatus(api, await createdId(api), ['completed'], { clock, deadline: 2000 });
    expect(clock.sleeps).toEqual([50, 100, 200, 400, 500, 500, 250]);
  });

  it('stops at the first answer that is not a status, and hands it back', async () => {
    const clock = virtualClock();
    const wait = await waitForStatus(referenceApi(clock), 'no-such-generation', ['completed'], { clock, deadline: 1000 });
    expect(wait).toMatchObject({ reached: false, why: 'answer', answer: { ok: false, exchange: { status: 404 } } });
    expect(clock.sleeps).toEqual([]);
  });

  it('stops when the signal aborts', async () => {
    const clock = virtualClock();
    const api = referenceApi(clock);
    const id = await createdId(api);
    const stop = new AbortController();
    stop.abort();
    expect(await waitForStatus(api, id, ['completed'], { clock, signal: stop.signal, deadline: 1000 })).toMatchObject({ reached: false, why: 'aborted' });
  });
});

describe('the JSON exchange times out on the injected clock', () => {
  it('a status request with no answer ends as a timeout exactly when the clock passes the bound', async () => {
    const clock = manualClock();
    const answer = oddApi(clock).status('g1');
    let settled = false;
    void answer.then(() => (settled = true));
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    clock.advance(4999);
    await settle();
    expect(settled).toBe(false);
    clock.advance(1);
    await settle();
    expect(settled).toBe(true);
    expect(await answer).toMatchObject({ ok: false, failure: { failure: 'timeout', code: 'UND_ERR_HEADERS_TIMEOUT', latencyMs: 5000 } });
  });

  it('a body that stops coming: each chunk restarts the wait, and the timeout counts from the last one', async () => {
    const clock = manualClock();
    // The exchange reads the clock when a chunk arrives: counting the reads tells the test it has.
    let reads = 0;
    const counted = { ...clock, now: () => (reads++, clock.now()) };
    const answer = oddApi(counted).status('g2');
    let settled = false;
    void answer.then(() => (settled = true));
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    const arrived = async (readsBefore: number) => {
      while (reads === readsBefore) await settle();
    };
    while (slowBody === undefined) await settle();
    await arrived(1);
    clock.advance(3000);
    const before = reads;
    slowBody.write('"process');
    await arrived(before);
    clock.advance(4999);
    await settle();
    expect(settled).toBe(false);
    clock.advance(1);
    await settle();
    expect(await answer).toMatchObject({ ok: false, failure: { failure: 'timeout', code: 'UND_ERR_BODY_TIMEOUT', latencyMs: 8000 } });
  });
});
