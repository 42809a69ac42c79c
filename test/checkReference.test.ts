import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../src/check/runner.js';
import { UnreachableError } from '../src/errors.js';
import { resolveTargetOptions } from '../src/options/options.js';
import { startReferenceServer } from '../src/server/referenceServer.js';
import { runCli } from './helpers/cli.js';
import { FAST_LIMITS, FAST_TIMINGS, failures, fastProfile, fastTarget, idsWith, runFastCheck } from './helpers/checkTarget.js';
import { startMisbehavingServer, type MisbehavingServer } from './helpers/misbehaving.js';

type ReferenceServer = Awaited<ReturnType<typeof startReferenceServer>>;

let server: ReferenceServer;
beforeAll(async () => {
  server = await startReferenceServer({ port: 0, faults: [], timings: FAST_TIMINGS });
});
afterAll(() => server.close());

describe('check against the compliant reference server', () => {
  it('passes every rule, running them side by side', async () => {
    const report = await runFastCheck(fastTarget(server.baseUrl));
    expect(failures(report)).toEqual({});
    // Seed 002's stream_url, relative to the API root: right for sse-doctor, a 404 for a browser that uses it as given.
    expect(idsWith(report, 'warn')).toEqual(['token.stream-url']);
    const streamUrl = report.results.find((result) => result.id === 'token.stream-url')!;
    expect(streamUrl.message).toMatch(/^stream_url "\/generations\/generate\/[\w-]+\/stream" is relative to the API root \/api, without the token .* a browser .* resolves it against the page, to http:\/\/127\.0\.0\.1:\d+\/generations\//);
    expect(streamUrl.evidence).toMatchObject({ streamUrlForm: 'api-root-relative', streamUrlHadToken: false });
    expect(idsWith(report, 'skip')).toEqual(['stream.token-expiry', 'stream.duration-cap']);
    expect(report.results).toHaveLength(27);
    expect(report.summary).toMatchObject({ ok: true, failed: 0, passed: 24, problems: [] });
    // Concurrent rules, read off the run's own timeline (a busy machine slows both sides alike): the rules' times add up to far more than the run.
    const ruleTime = report.results.reduce((sum, result) => sum + result.durationMs, 0);
    expect(ruleTime).toBeGreaterThan(3 * report.summary.durationMs);
    const trace = report.results.find((result) => result.id === 'stream.trace-id')!;
    expect(trace.evidence.traceId).toEqual(expect.any(String));
    expect(JSON.stringify(report)).not.toMatch(/"sse_token"|Bearer alice/);
  });

  it('takes existing generations from --completed-id and --failed-id', async () => {
    const fixtures = (await runFastCheck(fastTarget(server.baseUrl), { only: ['token.terminal-'] })).summary.fixtures;
    expect(fixtures).toMatchObject({ completing: expect.any(String), failing: expect.any(String) });
    const report = await runFastCheck(fastTarget(server.baseUrl), {
      only: ['token.terminal-'],
      completedId: fixtures.completing,
      failedId: fixtures.failing,
    });
    expect(idsWith(report, 'pass')).toEqual(['token.terminal-failed', 'token.terminal-completed']);
    expect(report.summary.fixtures).toEqual({ completed: fixtures.completing, failed: fixtures.failing });
  });

  it('skips the second-user rule without --other-auth, saying how to enable it', async () => {
    const report = await runFastCheck(fastTarget(server.baseUrl, fastProfile(), false), { only: ['token.owner', 'token.auth'] });
    expect(report.results.map((result) => [result.id, result.status])).toEqual([
      ['token.auth', 'pass'],
      ['token.owner', 'skip'],
    ]);
    expect(report.results[1]!.message).toContain('--other-auth');
  });

  it('stops at once on Ctrl-C and reports the unfinished rules as skipped, not failed', async () => {
    const aborter = new AbortController();
    setTimeout(() => aborter.abort(), 300);
    const report = await runFastCheck(fastTarget(server.baseUrl), { signal: aborter.signal });
    expect(report.summary.interrupted).toBe(true);
    expect(idsWith(report, 'fail')).toEqual([]);
    expect(report.results.find((result) => result.id === 'stream.heartbeat')!.message).toBe('interrupted before this rule finished');
  });

  it('throws UnreachableError (exit 3) when nothing listens', async () => {
    const closed = await startReferenceServer({ port: 0, faults: [], timings: FAST_TIMINGS });
    await closed.close();
    await expect(runFastCheck(fastTarget(closed.baseUrl))).rejects.toThrow(UnreachableError);
  });
});

describe('check --slow against a reference server with a short cap, token lifetime and rate window', () => {
  it('passes the slow rules and sees the rate window reopen', async () => {
    const slowServer = await startReferenceServer({
      port: 0,
      faults: [],
      timings: { ...FAST_TIMINGS, generationMs: 2000, streamMaxMs: 600, tokenTtlMs: 800, rateWindowMs: 800 },
    });
    try {
      const profile = fastProfile({ streamMaxSeconds: 0.6, tokenExpiresSeconds: 0.8, tokenRateWindowSeconds: 0.8 });
      const report = await runFastCheck(fastTarget(slowServer.baseUrl, profile), {
        only: ['stream.token-expiry', 'stream.duration-cap', 'token.rate-limit'],
        slow: true,
      });
      expect(failures(report)).toEqual({});
      expect(idsWith(report, 'pass')).toEqual(['token.rate-limit', 'stream.token-expiry', 'stream.duration-cap']);
      expect(report.results[0]!.message).toContain('served again');
    } finally {
      await slowServer.close();
    }
  });
});

describe('check --url (generic profile)', () => {
  let generic: MisbehavingServer;
  beforeAll(async () => {
    // A compliant plain SSE endpoint: typed events with ids and timestamps, resumable, heartbeats.
    generic = await startMisbehavingServer({
      '/sse': (req, res) => {
        const after = Number(req.headers['last-event-id'] ?? 0);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-trace-id': 'generic-1', 'x-accel-buffering': 'no', 'x-stream-max-seconds': '10', 'x-heartbeat-interval': '0.1' });
        let id = after;
        const timer = setInterval(() => {
          id++;
          const data = JSON.stringify({ text: `chunk ${id}`, timestamp: Date.now() / 1000 });
          res.write(id >= 6 ? `id: ${id}\nevent: complete\ndata: ${data}\n\n` : `: heartbeat\n\nid: ${id}\nevent: content_chunk\ndata: ${data}\n\n`);
          if (id >= 6) {
            clearInterval(timer);
            res.end();
          }
        }, 60);
        res.on('close', () => clearInterval(timer));
      },
    });
  });
  afterAll(() => generic.close());

  it('runs the rules about any SSE endpoint, and they pass', async () => {
    const resolved = resolveTargetOptions({ url: generic.url('/sse') }, {}, tmpdir());
    const target = { ...resolved, profile: { ...resolved.profile, limits: { ...resolved.profile.limits, ...FAST_LIMITS } } };
    const report = await runCheck({ target, only: [], skip: [], slow: false, strict: true, completedId: undefined, failedId: undefined });
    expect(failures(report)).toEqual({});
    expect(idsWith(report, 'pass')).toEqual([
      'stream.headers',
      'stream.trace-id',
      'stream.proxy-hints',
      'stream.heartbeat',
      'stream.terminal-event',
      'stream.close-after-terminal',
      'stream.clean-close',
      'stream.no-buffering',
      'stream.resume',
    ]);
    expect(report.summary.ok).toBe(true);
  });
});

describe('sse-doctor check (built CLI)', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'sse-doctor-check-'));
  // The fast limits as a user would set them: in the config file.
  writeFileSync(join(cwd, 'sse-doctor.config.json'), JSON.stringify({ profile: { base: 'generations', limits: FAST_LIMITS, client: { silenceSeconds: 2 } } }));

  it('exits 0 on the compliant server with the stable --json schema and a JUnit file', async () => {
    const junit = join(cwd, 'check.xml');
    const run = await runCli(['check', '--base-url', server.baseUrl, '--auth', 'alice', '--other-auth', 'bob', '--json', '--junit', junit], { cwd });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { summary: Record<string, unknown>; results: Record<string, unknown>[] };
    expect(Object.keys(report)).toEqual(['summary', 'results']);
    expect(report.summary).toMatchObject({ profile: 'generations', ok: true, failed: 0, warnings: 1, total: 27 });
    for (const result of report.results) {
      expect(Object.keys(result)).toEqual(['id', 'severity', 'status', 'title', 'message', 'layer', 'fix', 'evidence', 'durationMs']);
      expect(result.id === 'token.stream-url' ? ['warn'] : ['pass', 'skip']).toContain(result.status);
    }
    const xml = readFileSync(junit, 'utf8');
    expect(xml.match(/<testsuite /g)).toHaveLength(1);
    expect(xml.match(/<testcase /g)).toHaveLength(27);
    expect(xml).toContain('<testcase name="stream.heartbeat" classname="stream"');
    expect(xml.match(/<skipped /g)).toHaveLength(2);
    expect(xml).not.toContain('<failure');
  });

  it('exits 1 naming the broken rule, with a table, findings and GitHub annotations', async () => {
    const faulty = await startReferenceServer({ port: 0, faults: ['terminal-500'], timings: FAST_TIMINGS });
    try {
      const run = await runCli(['check', '--base-url', faulty.baseUrl, '--auth', 'alice', '--only', 'token.terminal-failed,stream.heartbeat'], {
        cwd,
        env: { GITHUB_ACTIONS: 'true' },
      });
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^::error title=token\.terminal-failed \(backend\)%3A .*::the token endpoint answered 500 for a failed generation\. .*retry storm/m);
      expect(run.stdout).toContain('token endpoint  POST /generations/generate/{id}/stream-token');
      expect(run.stdout).toMatch(/FAIL.*token\.terminal-failed/);
      expect(run.stdout).toMatch(/1\. FAIL token\.terminal-failed \(error, layer: backend\)/);
      expect(run.stdout).toContain('Fix: answer 400');
      expect(run.stdout).toContain('2 rules: 1 passed, 1 failed');
    } finally {
      await faulty.close();
    }
  });

  it('exits 3 with one line when the target is unreachable, and 2 for an unknown rule', async () => {
    const closed = await startReferenceServer({ port: 0, faults: [], timings: FAST_TIMINGS });
    await closed.close();
    const unreachable = await runCli(['check', '--base-url', closed.baseUrl, '--auth', 'alice'], { cwd });
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);
    expect(unreachable.stderr).toMatch(/^sse-doctor: .*nothing answered \(ECONNREFUSED\): is the server running/);
    const usage = await runCli(['check', '--base-url', closed.baseUrl, '--only', 'stream.hearbeat'], { cwd });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--only: no rule matches "stream.hearbeat"');
  });
});
