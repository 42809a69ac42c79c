import { describe, expect, it } from 'vitest';
import { planRules } from '../src/check/selection.js';
import { RULES } from '../src/check/rules/index.js';
import { closeAfterTerminal, evaluateRateLimit } from '../src/check/timing.js';
import { longerThanHeartbeat, longestSilence } from '../src/engine/silence.js';
import { heldBackEvents, type TimedEvent } from '../src/engine/heldBack.js';
import { ruleTimeoutMs } from '../src/check/runner.js';
import type { CheckReport, Rule } from '../src/check/types.js';
import { BUILTIN_PROFILES } from '../src/options/profiles.js';
import { renderCheckGithub } from '../src/reporters/checkGithub.js';
import { renderCheckJson } from '../src/reporters/checkJson.js';
import { renderCheckJunit, xml } from '../src/reporters/checkJunit.js';
import { fastTarget, runFastCheck } from './helpers/checkTarget.js';
import { manualClock } from './helpers/clocks.js';

describe('longestSilence (stream.heartbeat)', () => {
  it('measures from the headers through every sign of life to the terminal event', () => {
    // Headers at 100, heartbeats every 2 s, then a 6 s thinking gap, terminal at 12 100.
    expect(longestSilence(100, [150, 2150, 4150, 10150, 12100], 12100)).toEqual({ gapMs: 6000, endedAt: 10150 });
  });

  it('counts the silence before the end when the stream dies without a terminal event', () => {
    expect(longestSilence(0, [10, 1000], 9000)).toEqual({ gapMs: 8000, endedAt: 9000 });
  });

  it('ignores what comes after the terminal event and sorts events and comments together', () => {
    expect(longestSilence(0, [400, 100, 300, 200, 50_000], 500).gapMs).toBe(100);
  });
});

describe('longerThanHeartbeat (stream.heartbeat, silent-stall, tail and load)', () => {
  it('allows a heartbeat timer of the interval itself its lateness (seed 001: every 5 s), not a missed heartbeat', () => {
    // 5001 ms: seen from the FastAPI backend written from the seeds, heartbeating once 5 s passed without a write.
    expect(longerThanHeartbeat(5001, 5000)).toBe(false);
    expect(longerThanHeartbeat(5200, 5000)).toBe(false);
    // serve's thinking phase without a heartbeat, seen from a client that connected a little late.
    expect(longerThanHeartbeat(5300, 5000)).toBe(true);
    expect(longerThanHeartbeat(10_000, 5000)).toBe(true);
  });
});

describe('heldBackEvents (stream.no-buffering)', () => {
  // The server's clock runs 5 s ahead of ours: only differences of lags may matter.
  const at = (arrivedAt: number, producedAt: number): TimedEvent => ({ arrivedAt, producedAt: 1_700_000_005_000 + producedAt });
  const OPEN = 0;

  it('passes events that arrive as they are made, whatever the clock offset', () => {
    const verdict = heldBackEvents([at(1, 0), at(401, 400), at(6002, 6000), at(6301, 6300), at(8001, 8000)], OPEN, 15);
    expect(verdict).toEqual({ live: 5, worst: { index: 2, extraDelayMs: 1, burstSize: 1 } });
  });

  it('finds events made seconds apart that arrive together', () => {
    const verdict = heldBackEvents([at(1, 0), at(8000, 400), at(8001, 6000), at(8001, 6300), at(8002, 8000)], OPEN, 15);
    expect(verdict.worst).toEqual({ index: 1, extraDelayMs: 7599, burstSize: 4 });
  });

  it('leaves out the history replayed on connect', () => {
    // Made 900 and 500 ms before the connection, delivered at once when it opened.
    const verdict = heldBackEvents([at(2, -900), at(3, -500), at(4, 0), at(505, 500)], OPEN, 15);
    expect(verdict).toEqual({ live: 2, worst: { index: 3, extraDelayMs: 1, burstSize: 1 } });
  });
});

describe('closeAfterTerminal (stream.close-after-terminal)', () => {
  it('passes an end within the limit and fails a late one', () => {
    expect(closeAfterTerminal(1000, { kind: 'clean-terminal' }, 1004, 2000)).toEqual({ kind: 'closed', afterMs: 4 });
    expect(closeAfterTerminal(1000, { kind: 'clean-terminal' }, 3500, 2000)).toEqual({ kind: 'late', afterMs: 2500 });
  });

  it('calls a connection we had to cut not closed, and has nothing to say without a terminal event', () => {
    expect(closeAfterTerminal(1000, { kind: 'lingered', afterTerminalMs: 3000 }, 4000, 2000)).toEqual({ kind: 'not-closed', afterMs: 3000 });
    expect(closeAfterTerminal(undefined, { kind: 'clean-no-terminal' }, 4000, 2000)).toEqual({ kind: 'no-terminal' });
  });
});

describe('evaluateRateLimit (token.rate-limit)', () => {
  const burst = (statuses: number[], stepMs = 5) => statuses.map((status, index) => ({ sentAt: index * stepMs, status }));
  const ten = Array.from({ length: 10 }, () => 200);

  it('passes a 429 on request 11 inside the window', () => {
    expect(evaluateRateLimit(burst([...ten, 429]), 10, 60_000)).toEqual({ kind: 'limited', elapsedMs: 50, reopened: undefined });
  });

  it('counts 400 answers and fails a server that never limits', () => {
    expect(evaluateRateLimit(burst([...ten.slice(5), 400, 400, 400, 400, 400, 400]), 10, 60_000)).toEqual({ kind: 'not-limited', status: 400, elapsedMs: 50 });
  });

  it('fails a limit stricter than the contract', () => {
    expect(evaluateRateLimit(burst([200, 200, 429]), 10, 60_000)).toEqual({ kind: 'too-strict', index: 2 });
  });

  it('concludes nothing when the burst took longer than the window', () => {
    expect(evaluateRateLimit(burst([...ten, 200], 200), 10, 1000)).toEqual({ kind: 'inconclusive', elapsedMs: 2000 });
  });

  it('judges the probe only when it was sent a whole window after the burst', () => {
    const limited = burst([...ten, 429]);
    expect(evaluateRateLimit(limited, 10, 1000, { sentAt: 1100, status: 200 })).toEqual({ kind: 'limited', elapsedMs: 50, reopened: true });
    expect(evaluateRateLimit(limited, 10, 1000, { sentAt: 1100, status: 429 })).toEqual({ kind: 'window-too-long', probeAfterMs: 1050 });
    expect(evaluateRateLimit(limited, 10, 1000, { sentAt: 500, status: 429 })).toEqual({ kind: 'limited', elapsedMs: 50, reopened: undefined });
  });
});

describe('planRules (--only, --skip, --slow, --other-auth, profiles)', () => {
  const base = { only: [], skip: [], slow: false, hasOtherAuth: true };
  const ids = (plan: ReturnType<typeof planRules>) => plan.run.map((rule) => rule.id);

  it('takes ids and prefixes, and reports slow and second-user rules as skipped with how to enable them', () => {
    const plan = planRules(RULES, BUILTIN_PROFILES.generations, { ...base, only: ['token', 'stream.token-expiry'], skip: ['token.rate-limit'], hasOtherAuth: false });
    expect(ids(plan)).toEqual(['token.auth', 'token.unknown-id', 'token.issue', 'token.stream-url', 'token.terminal-failed', 'token.terminal-completed', 'token.retry-after', 'stream.token-expiry']);
    expect(plan.skipped.map(({ rule, reason }) => [rule.id, reason.split(':')[0]])).toEqual([['token.owner', 'needs a second user']]);
    const streams = planRules(RULES, BUILTIN_PROFILES.generations, { ...base, only: ['stream.'] });
    expect(streams.skipped.map(({ rule, reason }) => [rule.id, reason.split(':')[0]])).toEqual([
      ['stream.token-expiry', 'slow rule'],
      ['stream.duration-cap', 'slow rule'],
    ]);
  });

  it('runs only the rules about any SSE endpoint for the generic profile', () => {
    expect(ids(planRules(RULES, BUILTIN_PROFILES.generic, { ...base, slow: true }))).toEqual([
      'stream.headers',
      'stream.trace-id',
      'stream.proxy-hints',
      'stream.heartbeat',
      'stream.terminal-event',
      'stream.close-after-terminal',
      'stream.clean-close',
      'stream.no-buffering',
      'stream.resume',
      'stream.duration-cap',
    ]);
  });

  it('refuses a selector that matches no rule', () => {
    expect(() => planRules(RULES, BUILTIN_PROFILES.generations, { ...base, only: ['stream.hearbeat'] })).toThrow('--only: no rule matches "stream.hearbeat"');
  });
});

describe('check reporters', () => {
  const report: CheckReport = {
    summary: { profile: 'generations', target: 'http://127.0.0.1:1/api', total: 3, passed: 1, failed: 1, warnings: 1, skipped: 0, strict: false, ok: false, interrupted: false, durationMs: 1234, fixtures: {}, problems: [] },
    results: [
      { id: 'token.auth', severity: 'error', status: 'pass', title: 'auth', message: 'answered 401', layer: undefined, fix: undefined, evidence: {}, durationMs: 3 },
      { id: 'token.terminal-failed', severity: 'error', status: 'fail', title: 'a <failed> one', message: 'answered 500 & "retry"\nstorm: 100%', layer: 'backend', fix: 'answer 400', evidence: { status: 500 }, durationMs: 12 },
      { id: 'stream.proxy-hints', severity: 'warn', status: 'warn', title: 'hints', message: 'X-Accel-Buffering, missing', layer: 'proxy', fix: 'send it', evidence: {}, durationMs: 1 },
    ],
  };

  it('--json keeps exactly the documented keys', () => {
    const parsed = JSON.parse(renderCheckJson(report)) as { summary: object; results: object[] };
    expect(Object.keys(parsed)).toEqual(['summary', 'results']);
    for (const result of parsed.results) expect(Object.keys(result)).toEqual(['id', 'severity', 'status', 'title', 'message', 'layer', 'fix', 'evidence', 'durationMs']);
    expect(parsed.results[1]).toMatchObject({ layer: 'backend', fix: 'answer 400' });
  });

  it('writes one JUnit testsuite with escaped failures and GitHub annotations with escaped data', () => {
    const junit = renderCheckJunit(report);
    expect(junit.match(/<testsuite /g)).toHaveLength(1);
    expect(junit).toContain('<testcase name="token.terminal-failed" classname="token" time="0.012">');
    expect(junit).toContain('<failure message="a &lt;failed&gt; one" type="error">answered 500 &amp; &quot;retry&quot;\nstorm: 100%\n\nlayer: backend\nfix (backend): answer 400');
    expect(junit).toContain('failures="1"');
    expect(renderCheckJunit({ ...report, summary: { ...report.summary, strict: true } })).toContain('failures="2"');
    expect(xml('a\u0000b')).toBe('ab');
    expect(renderCheckGithub(report)).toBe(
      '::error title=token.terminal-failed (backend)%3A a <failed> one::answered 500 & "retry"%0Astorm: 100%25\n' +
        '::warning title=stream.proxy-hints (proxy)%3A hints::X-Accel-Buffering, missing\n',
    );
  });
});

describe('the rule timeout runs on the injected clock', () => {
  it('a rule that never finishes fails exactly when the clock reaches the timeout, not before', async () => {
    const clock = manualClock();
    const target = fastTarget('http://127.0.0.1:9');
    const stalled: Rule = { id: 'stream.stalled', severity: 'error', group: 'stream', title: 'never finishes', why: 'a test', profiles: ['generations'], run: () => new Promise(() => undefined) };
    let report: CheckReport | undefined;
    const run = runFastCheck(target, { clock, rules: [stalled] }).then((done) => (report = done));
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    const timeoutMs = ruleTimeoutMs(target);
    clock.advance(timeoutMs - 1);
    await settle();
    expect(report).toBeUndefined();
    clock.advance(1);
    await run;
    expect(report?.results[0]).toMatchObject({ status: 'fail', durationMs: timeoutMs, message: expect.stringMatching(/^stream\.stalled did not finish within \d+ s/) });
  });
});
