import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DoctorError } from '../src/errors.js';
import { resolveTargetOptions } from '../src/options/options.js';
import type { Profile, TargetOptions } from '../src/engine/target.js';
import { BUILTIN_PROFILES } from '../src/options/profiles.js';
import { BUILTIN_SCENARIO_NAMES, loadScenario } from '../src/replay/registry.js';
import { replayScenario, runScenarios } from '../src/replay/runner.js';
import { DEFAULT_REPLAY_SETTINGS, type ReplayReport, type ReplaySettings } from '../src/replay/scenario.js';
import { startReferenceServer, type FaultName } from '../src/server/referenceServer.js';

// Fast timings: a generation takes 600 ms, thinking silently from 30 ms to 450 ms.
const timings = { generationMs: 600, heartbeatMs: 50, streamMaxMs: 5000, tokenTtlMs: 5000, rateWindowMs: 60_000, rateLimit: 10 };
const generations = BUILTIN_PROFILES.generations;
const fastProfile: Profile = {
  ...generations,
  limits: { ...generations.limits, heartbeatSeconds: 0.25, streamMaxSeconds: 5, generationTimeoutSeconds: 5 },
  client: { ...generations.client, retryDelaysSeconds: [0.05, 0.1, 0.2, 0.4, 0.8], silenceSeconds: 0.3, rateLimitFallbackSeconds: 1 },
};
const fastSettings: ReplaySettings = { ...DEFAULT_REPLAY_SETTINGS, ratePerSecond: 100, maxDurationMs: 5000 };

function targetFor(baseUrl: string, profile: Profile = fastProfile): TargetOptions {
  return { ...resolveTargetOptions({ baseUrl, auth: 'alice' }, {}, tmpdir()), profile };
}

/** Runs scenarios against a fresh reference server with `faults`, each with its default clients, concurrently. */
async function replayAgainst(
  faults: FaultName[],
  names: readonly string[],
  options: { settings?: Partial<ReplaySettings>; timings?: Partial<typeof timings>; profile?: Profile } = {},
): Promise<ReplayReport[]> {
  const server = await startReferenceServer({ port: 0, faults, timings: { ...timings, ...options.timings } });
  try {
    const target = targetFor(server.baseUrl, options.profile);
    const runs = await Promise.all(names.map(async (name) => replayScenario(await loadScenario(name), target, { ...fastSettings, ...options.settings })));
    return runs.flat();
  } finally {
    await server.close();
  }
}

const verdicts = (reports: readonly ReplayReport[]) => reports.map((report) => `${report.scenario}/${report.client}: ${report.verdict}`);
const missed = (report: ReplayReport | undefined) => report?.expectations.filter((item) => !item.met).map((item) => item.name);

describe.concurrent('replay against the reference server', () => {
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
    const spam = reports.find((report) => report.scenario === 'rate-limit-spam' && report.client === 'naive');
    expect(spam?.details['first 429 at']).toBe(11);
    expect(spam?.metrics.rate429).toBeCloseTo(20 / 30, 2);
    const cutoff = reports.find((report) => report.scenario === 'network-cutoff' && report.client === 'robust');
    expect(cutoff?.metrics).toMatchObject({ reconnects: 1, duplicates: 0, missing: 0 });
    // The naive client replays from the start by design: duplicates are counted, not held against the server.
    expect(reports.find((report) => report.scenario === 'network-cutoff' && report.client === 'naive')?.metrics.duplicates).toBeGreaterThan(0);
  });

  it('immediate-close fails failed-generation and retry-storm, with the storm rate measured', async () => {
    const [robust, naive, storm] = await replayAgainst(['immediate-close'], ['failed-generation', 'retry-storm'], { settings: { maxRequests: 60 } });
    expect(robust?.verdict).toBe('fail');
    expect(missed(robust)).toContain('terminal failed event with the error');
    expect(robust?.metrics.retries).toBeGreaterThan(0);
    expect(naive?.verdict).toBe('fail');
    expect(storm?.verdict).toBe('fail');
    expect(missed(storm)).toContain('failure signalled in the stream');
    expect(storm?.metrics.tokenRequests).toBeGreaterThan(10);
    expect(storm?.metrics.requestsPerSecond).toBeGreaterThan(20);
  });

  it('no-rate-limit fails rate-limit-spam with a 429 rate of 0', async () => {
    const reports = await replayAgainst(['no-rate-limit'], ['rate-limit-spam']);
    expect(verdicts(reports)).toEqual(['rate-limit-spam/robust: fail', 'rate-limit-spam/naive: fail']);
    expect(reports.map((report) => report.metrics.rate429)).toEqual([0, 0]);
    expect(reports[0]?.expectations[0]).toMatchObject({ name: 'first 429 at the limit', met: false, observed: 'no 429 in 30 requests' });
  });

  it('no-resume fails network-cutoff, duplicates counted', async () => {
    const [robust] = await replayAgainst(['no-resume'], ['network-cutoff'], { settings: { clients: ['robust'] } });
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
  });

  it('network-cutoff with a reset after 200 ms: the robust client resumes with every id once', async () => {
    const [robust] = await replayAgainst([], ['network-cutoff'], {
      settings: { clients: ['robust'], cut: { afterEvents: undefined, afterMs: 200, reset: true } },
    });
    expect(robust?.verdict).toBe('pass');
    expect(robust?.details.cut).toBe('after 200 ms, RST');
    expect(robust?.expectations[0]?.observed).toMatch(/reset/);
  });

  it('rate-limit-spam --slow: after the window, requests are accepted again', async () => {
    const reports = await replayAgainst([], ['rate-limit-spam'], {
      settings: { clients: ['robust'], slow: true, requests: 12 },
      timings: { rateWindowMs: 800 },
      profile: { ...fastProfile, limits: { ...fastProfile.limits, tokenRateWindowSeconds: 0.8 } },
    });
    expect(reports[0]?.verdict).toBe('pass');
    expect(reports[0]?.expectations.map((item) => item.name)).toContain('accepted again after the window');
  });

  it('Ctrl-C stops a storm at once and still reports what ran', async () => {
    const server = await startReferenceServer({ port: 0, faults: ['immediate-close', 'no-rate-limit'], timings });
    try {
      const controller = new AbortController();
      const ended: string[] = [];
      // Stop once the storm is under way: the naive client has made a few requests.
      const reports = await runScenarios(
        ['retry-storm'],
        targetFor(server.baseUrl),
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
