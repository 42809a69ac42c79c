import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DoctorError } from '../src/errors.js';
import { resolveTargetOptions } from '../src/options/options.js';
import type { Profile, ProfileClient, ProfileLimits, TargetOptions } from '../src/engine/target.js';
import { BUILTIN_PROFILES } from '../src/options/profiles.js';
import { BUILTIN_SCENARIO_NAMES, loadScenario } from '../src/replay/registry.js';
import { replayScenario, runScenarios } from '../src/replay/runner.js';
import { DEFAULT_REPLAY_SETTINGS, type ReplayReport, type ReplaySettings } from '../src/replay/scenario.js';
import { startReferenceServer, type FaultName } from '../src/server/referenceServer.js';
import { limitsAtPace, timingsAtPace } from './helpers/checkTarget.js';
import { BACKENDS, type Backend } from './helpers/realTargets.js';

/**
 * Test timings at pace 1 (see `BACKENDS`): every phase long against a busy machine's latency. A
 * generation of 5 s thinks in silence from 5% to 70%: the client connects well inside that
 * silence, a cut stream is resumed long before the end, and a silence watchdog of 1 s fires in
 * it. A whole spam or storm stays inside one rate window however slowly the backend answers;
 * --slow gets a short window of its own to wait out.
 */
const TIMINGS = { generationMs: 5000, heartbeatMs: 100, streamMaxMs: 15_000, tokenTtlMs: 15_000, rateWindowMs: 60_000, rateLimit: 10 };
const generations = BUILTIN_PROFILES.generations;
const LIMITS: ProfileLimits = {
  ...generations.limits,
  heartbeatSeconds: 0.5,
  firstEventSeconds: 1,
  closeAfterTerminalSeconds: 0.5,
  streamMaxSeconds: 15,
  tokenRateWindowSeconds: 60,
  generationTimeoutSeconds: 15,
};
const CLIENT: ProfileClient = { ...generations.client, retryDelaysSeconds: [0.05, 0.1, 0.2, 0.4, 0.8], silenceSeconds: 1, rateLimitFallbackSeconds: 1 };
const SETTINGS: ReplaySettings = { ...DEFAULT_REPLAY_SETTINGS, ratePerSecond: 100, maxDurationMs: 15_000 };

/** The profile and settings for a backend run at `pace`: every duration of the server, the contract and the client policy times `pace`, counts unchanged. */
function atPace(pace: number): { profile: Profile; settings: ReplaySettings } {
  const client: ProfileClient = {
    ...CLIENT,
    retryDelaysSeconds: CLIENT.retryDelaysSeconds.map((seconds) => seconds * pace),
    silenceSeconds: CLIENT.silenceSeconds * pace,
    rateLimitFallbackSeconds: CLIENT.rateLimitFallbackSeconds * pace,
  };
  return { profile: { ...generations, limits: limitsAtPace(LIMITS, pace), client }, settings: { ...SETTINGS, maxDurationMs: SETTINGS.maxDurationMs! * pace } };
}

function targetFor(baseUrl: string, profile: Profile): TargetOptions {
  return { ...resolveTargetOptions({ baseUrl, auth: 'alice' }, {}, tmpdir()), profile };
}

const verdicts = (reports: readonly ReplayReport[]) => reports.map((report) => `${report.scenario}/${report.client}: ${report.verdict}`);
const missed = (report: ReplayReport | undefined) => report?.expectations.filter((item) => !item.met).map((item) => item.name);
const reportOf = (reports: readonly ReplayReport[], scenario: string, client: string) => reports.find((report) => report.scenario === scenario && report.client === client);
const millis = (detail: unknown) => Number.parseFloat(String(detail));

/**
 * The same scenarios, faults and verdicts against both backends. One backend per fault set,
 * shared by the file's tests (each scenario runs on generations of its own), all at once.
 */
describe.each(BACKENDS)('replay against the %s backend', (_name, start, pace) => {
  const { profile, settings } = atPace(pace);
  const backends = new Map<string, Promise<Backend>>();
  afterAll(async () => {
    await Promise.all([...backends.values()].map(async (backend) => (await backend).close()));
  });

  function backendWith(faults: readonly FaultName[], timings: typeof TIMINGS): Promise<Backend> {
    const key = JSON.stringify([faults, timings]);
    if (!backends.has(key)) backends.set(key, start({ faults, timings: timingsAtPace(timings, pace) }));
    return backends.get(key)!;
  }

  /**
   * Runs scenarios against the backend with `faults` (and `TIMINGS`, or `timings`), each with its
   * default clients (or `overrides.clients`), concurrently, judged by the profile at the backend's pace (or `judgedBy`).
   */
  async function replayAgainst(
    faults: readonly FaultName[],
    names: readonly string[],
    overrides: Partial<ReplaySettings> = {},
    { timings = {}, judgedBy = profile }: { timings?: Partial<typeof TIMINGS>; judgedBy?: Profile } = {},
  ): Promise<ReplayReport[]> {
    const target = targetFor((await backendWith(faults, { ...TIMINGS, ...timings })).baseUrl, judgedBy);
    const runs = await Promise.all(names.map(async (name) => replayScenario(await loadScenario(name), target, { ...settings, ...overrides })));
    return runs.flat();
  }

  // A test's time is its generations' (a few, at the backend's pace) plus the backend's start.
  describe.concurrent('verdicts', { timeout: 30_000 * pace }, () => {
    it('the compliant server passes every scenario with the default clients', async () => {
      const reports = await replayAgainst([], BUILTIN_SCENARIO_NAMES);
      expect(verdicts(reports)).toEqual([
        'failed-generation/robust: pass',
        'failed-generation/naive: pass',
        'rate-limit-spam/robust: pass',
        'rate-limit-spam/naive: pass',
        'network-cutoff/robust: pass',
        'network-cutoff/naive: pass',
        'retry-storm/naive: pass',
        'silent-stall/robust: pass',
        'silent-stall/naive: pass',
      ]);
      // 429 handling: the 11th token request is refused with Retry-After; the robust client waits it out (it stops spamming), the naive one keeps sending.
      const [politeSpam, spam] = [reportOf(reports, 'rate-limit-spam', 'robust'), reportOf(reports, 'rate-limit-spam', 'naive')];
      expect(politeSpam?.metrics.tokenRequests).toBe(LIMITS.tokenRateLimit + 1);
      expect(politeSpam?.details).toMatchObject({ 'first 429 at': 11, 'Retry-After': expect.stringMatching(/^\d+ s$/), 'client after 429': expect.stringMatching(/\(Retry-After\)/) });
      expect(spam?.details).toMatchObject({ 'first 429 at': 11, 'client after 429': 'kept sending' });
      expect(spam?.metrics.rate429).toBeCloseTo(20 / 30, 2);
      expect(reportOf(reports, 'retry-storm', 'naive')?.details['stopped by']).toBe('terminal event');
      expect(reportOf(reports, 'network-cutoff', 'robust')?.metrics).toMatchObject({ reconnects: 1, duplicates: 0, missing: 0 });
      expect(reportOf(reports, 'network-cutoff', 'robust')?.details['Last-Event-ID sent']).toBe(true);
      // The naive client replays from the start by design: duplicates are counted, not held against the server.
      expect(reportOf(reports, 'network-cutoff', 'naive')?.metrics.duplicates).toBeGreaterThan(0);
      // A terminal generation gets no reconnects: the failed event ends both clients' sessions.
      for (const client of ['robust', 'naive']) expect(reportOf(reports, 'failed-generation', client)?.metrics).toMatchObject({ retries: 0, reconnects: 0 });
    });

    it('immediate-close: the naive client storms until its request bound, the robust one backs off and gives up', async () => {
      const reports = await replayAgainst(['immediate-close'], ['failed-generation', 'retry-storm'], { maxRequests: 60, clients: ['robust', 'naive'] });
      const [robust, naive] = reports.filter((report) => report.scenario === 'failed-generation');
      expect(robust?.verdict).toBe('fail');
      expect(missed(robust)).toContain('terminal failed event with the error');
      expect(robust?.metrics.retries).toBe(CLIENT.maxRetries);
      expect(naive?.verdict).toBe('fail');
      const [fixed, storm] = reports.filter((report) => report.scenario === 'retry-storm');
      expect(verdicts([fixed!, storm!])).toEqual(['retry-storm/robust: fail', 'retry-storm/naive: fail']);
      // The rate limit refuses the storm from the 11th token request on, but the streams before it were silent 200s.
      expect(missed(storm)).toEqual(['failure signalled in the stream', 'no silent 200 streams']);
      expect(storm?.details).toMatchObject({ 'stopped by': '429 at request 11', 'silent 200 streams': LIMITS.tokenRateLimit });
      // The storm, by counts: nothing stopped the naive client but its own bound of 60 requests.
      expect(storm?.metrics).toMatchObject({ tokenRequests: 60, retries: 60 });
      expect(storm?.metrics.responses['429']).toBe(60 - LIMITS.tokenRateLimit);
      // The robust client, by counts and the recorded timeline: its retries as the policy allows, each after the policy's wait.
      expect(fixed?.metrics).toMatchObject({ retries: CLIENT.maxRetries, reconnects: CLIENT.maxRetries });
      expect(millis(fixed?.details['shortest reconnect wait'])).toBeGreaterThanOrEqual(profile.client.retryDelaysSeconds[0]! * 1000);
    });

    it('linger fails failed-generation: the stream stays open after the failed event', async () => {
      const [robust] = await replayAgainst(['linger'], ['failed-generation'], { clients: ['robust'] });
      expect(missed(robust)).toEqual(['stream ends at once']);
      expect(robust?.expectations.find((item) => item.name === 'stream ends at once')?.observed).toMatch(/^still open \d+ ms after the terminal event/);
    });

    it('no-rate-limit fails rate-limit-spam with a 429 rate of 0', async () => {
      const reports = await replayAgainst(['no-rate-limit'], ['rate-limit-spam']);
      expect(verdicts(reports)).toEqual(['rate-limit-spam/robust: fail', 'rate-limit-spam/naive: fail']);
      expect(reports.map((report) => report.metrics.rate429)).toEqual([0, 0]);
      expect(reports[0]?.expectations[0]).toMatchObject({ name: 'first 429 at the limit', met: false, observed: 'no 429 in 30 requests' });
    });

    it('no-resume fails network-cutoff, duplicates counted', async () => {
      const [robust] = await replayAgainst(['no-resume'], ['network-cutoff'], { clients: ['robust'] });
      expect(robust?.verdict).toBe('fail');
      expect(missed(robust)).toEqual(['resume without duplicates']);
      expect(robust?.metrics.duplicates).toBeGreaterThan(0);
    });

    it('no-heartbeat fails silent-stall: the watchdog fires and the robust client recovers', async () => {
      const [robust, naive] = await replayAgainst(['no-heartbeat'], ['silent-stall']);
      expect(robust?.verdict).toBe('fail');
      expect(missed(robust)).toEqual(['heartbeat fills the silence', 'silence watchdog never fires']);
      expect(robust?.expectations.find((item) => item.name === 'client recovers')?.met).toBe(true);
      expect(naive?.verdict).toBe('fail');
      expect(missed(naive)).toEqual(['heartbeat fills the silence']);
    });

    it('no-heartbeat, judged by an interval longer than any silence: passes, and says the heartbeat was never needed', async () => {
      const judgedBy: Profile = { ...profile, limits: { ...profile.limits, heartbeatSeconds: 10 * pace } };
      const [naive] = await replayAgainst(['no-heartbeat'], ['silent-stall'], { clients: ['naive'] }, { judgedBy });
      expect(naive?.verdict).toBe('pass');
      expect(naive?.expectations[0]?.observed).toMatch(/\(0 heartbeats\): no silence reached \d+ s, so none was needed/);
    });

    it('a heartbeat sent once the interval has passed, as seed 001 says ("every 5 seconds"), keeps silent-stall green', async () => {
      // A timer of the interval itself is always a little late; the watchdog waits three intervals, as the contract's 15 s does 5 s.
      const intervalMs = 2000;
      const judgedBy: Profile = { ...profile, limits: { ...profile.limits, heartbeatSeconds: (intervalMs / 1000) * pace }, client: { ...profile.client, silenceSeconds: (3 * intervalMs * pace) / 1000 } };
      const reports = await replayAgainst([], ['silent-stall'], {}, { timings: { heartbeatMs: intervalMs }, judgedBy });
      expect(verdicts(reports)).toEqual(['silent-stall/robust: pass', 'silent-stall/naive: pass']);
      // Heartbeats, not events, filled the thinking silence, close to the interval: FastAPI's once it
      // has passed (the late timer the grace is for), serve's at its last tick before it runs out.
      for (const report of reports) expect(millis(report.details['longest silence'])).toBeGreaterThan(0.7 * intervalMs * pace);
    });

    it('network-cutoff with a reset in the silence: the robust client resumes with Last-Event-ID and gets every id once', async () => {
      const afterMs = 200 * pace;
      const [robust] = await replayAgainst([], ['network-cutoff'], { clients: ['robust'], cut: { afterEvents: undefined, afterMs, reset: true } });
      expect(robust?.verdict).toBe('pass');
      expect(robust?.details).toMatchObject({ cut: `after ${afterMs} ms, RST`, 'Last-Event-ID sent': true });
      expect(robust?.expectations[0]?.observed).toMatch(/reset/);
      expect(robust?.metrics).toMatchObject({ reconnects: 1, duplicates: 0, missing: 0 });
    });

    it('rate-limit-spam --slow: after the window, requests are accepted again', async () => {
      const windowMs = 4000;
      const judgedBy: Profile = { ...profile, limits: { ...profile.limits, tokenRateWindowSeconds: (windowMs / 1000) * pace } };
      const reports = await replayAgainst([], ['rate-limit-spam'], { clients: ['robust'], slow: true, requests: 12 }, { timings: { rateWindowMs: windowMs }, judgedBy });
      expect(reports[0]?.verdict).toBe('pass');
      expect(reports[0]?.expectations.map((item) => item.name)).toContain('accepted again after the window');
    });
  });
});

describe('replay runner', () => {
  it('Ctrl-C stops a storm at once and still reports what ran', async () => {
    const server = await startReferenceServer({ port: 0, faults: ['immediate-close', 'no-rate-limit'], timings: { ...TIMINGS, generationMs: 600 } });
    try {
      const controller = new AbortController();
      const ended: string[] = [];
      // Stop once the storm is under way: the naive client has made a few requests.
      const reports = await runScenarios(
        ['retry-storm'],
        targetFor(server.baseUrl, atPace(1).profile),
        { signal: controller.signal, onScenarioStart: () => setTimeout(() => controller.abort(), 300), onScenarioEnd: (scenario) => ended.push(scenario.name) },
        { maxRequests: 100_000, maxDurationMs: 600_000 },
      );
      expect(ended).toEqual(['retry-storm']);
      expect(reports).toMatchObject([{ scenario: 'retry-storm', client: 'naive', verdict: 'fail' }]);
      // Neither bound was reached: only the abort can have ended the storm.
      expect(reports[0]!.metrics.tokenRequests).toBeLessThan(100_000);
    } finally {
      await server.close();
    }
  });
});

describe('replay reports and scenario modules', () => {
  it("loads a user's scenario module by path and rejects what is not one", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sse-doctor-scenario-'));
    writeFileSync(join(dir, 'mine.mjs'), "export default { name: 'mine', description: 'd', defaultClients: ['robust'], run: async () => ({}) };\n");
    writeFileSync(join(dir, 'broken.mjs'), "export default { name: 'broken', defaultClients: ['turbo'] };\n");
    expect((await loadScenario('./mine.mjs', dir)).name).toBe('mine');
    await expect(loadScenario('./broken.mjs', dir)).rejects.toThrow(/not a scenario module/);
    await expect(loadScenario('no-such-scenario')).rejects.toThrow(DoctorError);
    await expect(loadScenario('./missing.js', dir)).rejects.toThrow(/does not exist/);
  });
});
