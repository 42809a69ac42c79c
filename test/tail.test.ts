import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { tail } from '../src/commands/tail.js';
import { GenerationsApi } from '../src/engine/generationsApi.js';
import { systemClock } from '../src/engine/clock.js';
import { waitForStatus } from '../src/engine/statusWait.js';
import { BUILTIN_PROFILES } from '../src/options/profiles.js';
import type { Profile, TargetOptions } from '../src/engine/target.js';
import type { FaultName } from '../src/server/referenceServer.js';
import { limitsAtPace, timingsAtPace } from './helpers/checkTarget.js';
import { BACKENDS, type Backend, type StartBackend } from './helpers/realTargets.js';

// Fast clocks on both sides: the contract's numbers scaled down, the policy's schedule in ms.
const TIMINGS = { generationMs: 700, heartbeatMs: 60, streamMaxMs: 3000, tokenTtlMs: 2000, rateWindowMs: 2000, rateLimit: 10 };
const PROFILE: Profile = {
  ...BUILTIN_PROFILES.generations,
  limits: { ...BUILTIN_PROFILES.generations.limits, heartbeatSeconds: 0.2, closeAfterTerminalSeconds: 0.3, streamMaxSeconds: 3 },
  client: { ...BUILTIN_PROFILES.generations.client, retryDelaysSeconds: [0.02, 0.04, 0.08], maxRetries: 3, silenceSeconds: 1 },
};

const servers: Backend[] = [];
afterAll(() => Promise.all(servers.map((server) => server.close())));

async function tailAgainstBackend(start: StartBackend, pace: number, faults: FaultName[], options: { failing?: boolean; afterItEnded?: boolean } = {}) {
  const timings = timingsAtPace(TIMINGS, pace);
  const server = await start({ faults, timings });
  servers.push(server);
  const profile: Profile = { ...PROFILE, limits: limitsAtPace(PROFILE.limits, pace) };
  const target: TargetOptions = {
    baseUrl: server.baseUrl,
    streamUrl: undefined,
    auth: 'alice',
    otherAuth: undefined,
    headers: {},
    profile,
    connectTimeoutMs: 2000,
    headersTimeoutMs: 2000,
    maxLineBytes: 65_536,
    insecure: false,
    followRedirects: false,
  };
  let out = '';
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  const generationId = options.afterItEnded ? await endedGeneration(target, options.failing === true, timings.generationMs) : undefined;
  const code = await tail({ target, generationId, failing: options.failing === true, json: true, color: false, maxDurationMs: 30_000 }, { stdout });
  const items = out.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
  return { code, items, summary: items.at(-1)!, kinds: (kind: string) => items.filter((item) => item.kind === kind) };
}

/** A generation created and waited for until terminal, the way the seed's frontend met it. */
async function endedGeneration(target: TargetOptions, failing: boolean, generationMs: number): Promise<string> {
  const api = new GenerationsApi(target);
  const created = await api.create(failing ? PROFILE.fixtures.failingPrompt : PROFILE.fixtures.completingPrompt);
  if (!created.ok) throw new Error('could not create the fixture generation');
  const wait = await waitForStatus(api, created.id, ['failed', 'completed'], { clock: systemClock, deadline: systemClock.now() + generationMs * 10 });
  if (!wait.reached) throw new Error('the fixture generation never ended');
  return created.id;
}

const contractData = (item: Record<string, any>) => JSON.parse(item.data as string) as Record<string, unknown>;

/** The log's ids, which must be 1, 2, 3… with none missing or repeated. */
const logIds = (run: { kinds: (kind: string) => Record<string, any>[] }) => run.kinds('event').filter((e) => e.id !== null).map((e) => e.id as string);
const consecutive = (ids: string[]) => ids.map((_, index) => String(index + 1));

describe.each(BACKENDS)('tail against the %s backend', (_name, start, pace) => {
  const tailAgainst = (faults: FaultName[], options?: { failing?: boolean; afterItEnded?: boolean }) => tailAgainstBackend(start, pace, faults, options);

  it('shows the connected and the terminal events and exits 0', async () => {
    const run = await tailAgainst([]);
    const events = run.kinds('event');
    expect(contractData(events[0]!).stage).toBe('connected');
    expect(contractData(events.at(-1)!)).toMatchObject({ status: 'completed', stage: 'complete' });
    expect(logIds(run).length).toBeGreaterThanOrEqual(5);
    expect(logIds(run)).toEqual(consecutive(logIds(run)));
    expect(run.kinds('comment').length).toBeGreaterThan(0);
    expect(run.summary).toMatchObject({ kind: 'summary', ok: true, ended: 'clean-terminal', reconnects: 0, tokenRequests: 1, finalStatus: 'completed' });
    expect(run.code).toBe(0);
  });

  it('a failing generation: terminal failed event, clean close, exit 0', async () => {
    const run = await tailAgainst([], { failing: true });
    expect(contractData(run.kinds('event').at(-1)!)).toMatchObject({ status: 'failed', stage: 'error' });
    expect(run.code).toBe(0);
  });

  it('drop-mid-stream: reconnects with a fresh token and Last-Event-ID, every id exactly once', async () => {
    const run = await tailAgainst(['drop-mid-stream']);
    const ids = logIds(run);
    expect(ids.length).toBeGreaterThanOrEqual(5);
    expect(ids).toEqual(consecutive(ids));
    expect(run.kinds('reconnect')).toHaveLength(1);
    expect(run.kinds('connect').map((c) => c.lastEventId)).toEqual([null, '1']);
    expect(run.summary).toMatchObject({ ok: true, reconnects: 1, tokenRequests: 2, duplicates: 0, missing: 0 });
    expect(run.code).toBe(0);
  });

  it('drop-mid-stream with no-resume: the replayed ids are flagged as duplicates', async () => {
    const run = await tailAgainst(['drop-mid-stream', 'no-resume']);
    expect(run.kinds('diagnostic').filter((d) => d.code === 'duplicate-id').map((d) => d.message)).toEqual([expect.stringContaining('event id 1 seen twice')]);
    expect(run.summary).toMatchObject({ duplicates: 1 });
  });

  it('immediate-close on a failed generation: silent closes, backoff, then giving up with exit 1', async () => {
    const run = await tailAgainst(['immediate-close'], { failing: true, afterItEnded: true });
    expect(run.kinds('end').map((end) => end.how)).toEqual(['clean-no-terminal', 'clean-no-terminal', 'clean-no-terminal', 'clean-no-terminal']);
    expect(run.kinds('reconnect').map((r) => r.delayMs)).toEqual([20, 40, 80]);
    expect(run.summary).toMatchObject({ ok: false, events: 0, tokenRequests: 4, stopReason: expect.stringMatching(/gave up after 3 retries/) });
    expect(run.code).toBe(1);
  });

  it('a failed generation on a compliant server: the token endpoint says 400 and tail does not retry', async () => {
    const run = await tailAgainst([], { failing: true, afterItEnded: true });
    // Seed 002's detail: the status, the error, and that it cannot stream.
    expect(run.kinds('token')).toEqual([expect.objectContaining({ status: 400, detail: expect.stringMatching(/^Generation has failed\. Error: .+\. Cannot stream\.$/) })]);
    const error = /^Generation has failed\. Error: (.+)\. Cannot stream\.$/.exec(run.kinds('token')[0]!.detail as string)![1];
    expect(run.kinds('diagnostic').map((d) => d.message)).toContain(`generation is failed: ${error}`);
    expect(run.summary).toMatchObject({ reconnects: 0, tokenRequests: 1, ok: false, finalStatus: 'failed' });
  });

  it('linger: the terminal event arrives but the stream stays open: exit 1', async () => {
    const run = await tailAgainst(['linger']);
    expect(run.summary).toMatchObject({ ended: 'lingered', ok: false });
    expect(run.code).toBe(1);
  });

  it('no-heartbeat: the thinking phase is reported as silence longer than the heartbeat interval', async () => {
    const run = await tailAgainst(['no-heartbeat']);
    expect(run.kinds('diagnostic').map((d) => d.code)).toContain('silence');
    expect(run.summary.heartbeats).toBe(0);
  });

  it('wrong-content-type: no retries, exit 1', async () => {
    const run = await tailAgainst(['wrong-content-type']);
    expect(run.summary).toMatchObject({ ended: 'wrong-content-type', reconnects: 0, ok: false });
    expect(run.code).toBe(1);
  });
});
