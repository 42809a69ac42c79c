import { readFile, mkdtemp } from 'node:fs/promises';
import { concurrencyLimit } from './helpers/concurrency.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JudgeReport } from '../src/judge/types.js';
import { runCli } from './helpers/cli.js';
import { startStaticServer, type StaticServer } from './pages/staticServer.js';

/**
 * The pages run 20 times faster than the policy: 2 s of backoff is 100 ms, the 60 s fallback 3 s,
 * the 15 s silence watchdog 750 ms (a loaded machine stalls a process for a few hundred ms).
 */
const SCALE = '0.05';
/** Chromium and judge per run: three at a time is what two shared cores take without starving the timers. */
const AT_ONCE = 3;

let pages: StaticServer;
let dir: string;
beforeAll(async () => {
  pages = await startStaticServer();
  dir = await mkdtemp(join(tmpdir(), 'judge-'));
});
afterAll(() => pages.close());

const slot = concurrencyLimit(AT_ONCE);

async function judgePage(behaviour: string, extra: string[] = []): Promise<{ code: number; report: JudgeReport; stderr: string }> {
  const page = `${pages.origin}/frontend.html?api={api}&behaviour=${behaviour}&scale=${SCALE}`;
  const run = await slot(() => runCli(['judge', '--page', page, '--case', 'all', '--time-scale', SCALE, '--timeout', '3m', '--json', ...extra]));
  if (!run.stdout.startsWith('{')) throw new Error(`judge ${behaviour} exited ${run.code} without a report: ${run.stderr}`);
  return { code: run.code, report: JSON.parse(run.stdout) as JudgeReport, stderr: run.stderr };
}

const failing = (report: JudgeReport) => report.cases.filter((result) => result.verdict !== 'pass').map((result) => result.name);
/** The failed checks, so a wrong verdict explains itself in the test output. */
const why = (report: JudgeReport) =>
  report.cases.flatMap((result) => result.checks.filter((check) => !check.pass).map((check) => `${result.name}: ${check.name}: ${check.message}`)).join('\n');

describe.concurrent('judge --page drives the test frontends in Chromium', { timeout: 400_000 }, () => {
  it('passes the fixed frontend of seed 000 on every case, and writes JUnit and HTML', async () => {
    const junit = join(dir, 'fixed.xml');
    const html = join(dir, 'fixed.html');
    const { code, report } = await judgePage('fixed', ['--junit', junit, '--html', html]);
    expect(failing(report), why(report)).toEqual([]);
    expect(code).toBe(0);
    expect(report.cases).toHaveLength(7);
    const cutoff = report.cases.find((result) => result.name === 'network-cutoff')!;
    expect(cutoff.figures?.retries).toBe(5);
    expect(cutoff.figures?.lastEventIdSent).toBe(5);
    // The browser's side of the story: its own network log, tokens shortened.
    const network = report.cases[0]!.page!.network;
    expect(network.some((line) => /^POST http:\/\/127\.0\.0\.1:\d+\/api\/generations\/generate\/[^/]+\/stream-token -> 200$/.test(line))).toBe(true);
    expect(network.some((line) => /stream\?token=.{4}…/.test(line))).toBe(true);
    const xml = await readFile(junit, 'utf8');
    expect(xml).toContain('<testsuite name="sse-doctor judge" tests="7" failures="0"');
    expect(await readFile(html, 'utf8')).toContain('<svg');
  });

  it('fails the naive frontend (the seed 000 bug) on failed-generation, immediate-close and rate-limit, measuring its worst requests/s', async () => {
    const { code, report } = await judgePage('naive');
    expect(code).toBe(1);
    expect(failing(report)).toEqual(expect.arrayContaining(['failed-generation', 'immediate-close', 'rate-limit']));
    const storm = report.cases.find((result) => result.name === 'failed-generation')!;
    expect(storm.figures!.worstPerSecond).toBeGreaterThan(10);
    expect(storm.figures!.gaveUpAfterMs).toBeUndefined();
  });

  const defects: [string, string][] = [
    ['retry-400-once', 'completed'],
    ['short-429-wait', 'rate-limit'],
    ['no-backoff', 'network-cutoff'],
    ['no-max-retries', 'immediate-close'],
    ['no-last-event-id', 'network-cutoff'],
    ['reuses-token', 'token-expiry'],
  ];
  for (const [behaviour, only] of defects) {
    it(`fails the ${behaviour} frontend on ${only} and on nothing else`, async () => {
      const { code, report } = await judgePage(behaviour);
      expect(failing(report), why(report)).toEqual([only]);
      expect(code).toBe(1);
    });
  }
});
