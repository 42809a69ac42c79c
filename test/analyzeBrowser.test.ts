import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../src/browser/chromium.js';
import { startReferenceServer, type ReferenceServer } from '../src/server/referenceServer.js';
import { analyzeJson } from './helpers/analyzeRun.js';
import { runCli } from './helpers/cli.js';
import { recordHar } from './helpers/harRecorder.js';

// Corpora recorded by real Chromium running the test frontends against `serve`, on every run.
// Truths: the naive page against the seed-000 bug storms; the fixed page against a sound server
// is clean; a page that asks again once after a 400 retries after a terminal answer, once.
const dir = mkdtempSync(join(tmpdir(), 'sse-doctor-analyze-'));
const har = (name: string) => join(dir, `${name}.har`);
const FAILING = 'Please fail this generation on purpose (analyze test).';
// Past the token limit (10 per window) and well into the 429s: the storm's two phases, each long enough to measure.
const NAIVE_TOKEN_REQUESTS = 50;

let buggy: ReferenceServer;
let sound: ReferenceServer;
let browser: Browser;

/** Polls the status endpoint until the generation reaches `status` (the server's own clock decides, not ours). */
async function untilStatus(server: ReferenceServer, id: string, status: string): Promise<void> {
  for (;;) {
    const response = await fetch(`${server.baseUrl}/generations/${id}`, { headers: { Authorization: 'Bearer alice' } });
    if (((await response.json()) as { status: string }).status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function createGeneration(server: ReferenceServer, prompt: string): Promise<string> {
  const response = await fetch(`${server.baseUrl}/generations/generate`, {
    method: 'POST',
    headers: { Authorization: 'Bearer alice', 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt }),
  });
  return ((await response.json()) as { id: string }).id;
}


beforeAll(async () => {
  [buggy, sound, browser] = await Promise.all([
    startReferenceServer({ faults: ['immediate-close'], timings: { generationMs: 1200 } }),
    startReferenceServer({ timings: { generationMs: 3000, heartbeatMs: 200 } }),
    launchChromium(),
  ]);
  const failedOnSound = await createGeneration(sound, FAILING);
  await untilStatus(sound, failedOnSound, 'failed');
  await Promise.all([
    // The page creates a failing generation, streams it to its terminal event, and (naive) reconnects into the bug.
    recordHar(browser, { api: buggy.baseUrl, behaviour: 'naive', extra: { prompt: FAILING }, tokenRequests: NAIVE_TOKEN_REQUESTS, harPath: har('naive') }),
    recordHar(browser, { api: sound.baseUrl, behaviour: 'fixed', harPath: har('fixed') }),
    recordHar(browser, { api: sound.baseUrl, behaviour: 'retry-400-once', extra: { generation: failedOnSound }, harPath: har('retry-400-once') }),
  ]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([buggy?.close(), sound?.close()]);
});

describe('analyze on HAR files recorded by Chromium', () => {
  it('names the storm of the naive page with its rate and the 200 the backend answered for a terminal generation', async () => {
    const { code, report } = await analyzeJson(har('naive'));
    expect(code).toBe(1);
    const ids = report.findings.map((finding) => finding.id);
    expect(ids).toEqual(expect.arrayContaining(['retry-storm', 'inside-429-window', 'no-backoff', 'too-many-retries', 'terminal-stream-200']));
    const storm = report.figures.storms[0]!;
    expect(storm.requests).toBeGreaterThanOrEqual(10);
    expect(storm.perSecond).toBeGreaterThan(0);
    expect(report.findings.find((finding) => finding.id === 'retry-storm')!.summary).toContain(`${storm.perSecond} requests/s`);
    const terminal200 = report.findings.find((finding) => finding.id === 'terminal-stream-200')!;
    expect(terminal200.layer).toBe('backend');
    // Known from the first stream's terminal event when the page streamed in time, else inferred from the silent 200s in a row.
    expect(terminal200.summary).toMatch(/^the backend answered 200 \d+ times with a stream that closed without any event/);
    expect(terminal200.evidence[0]!.text).toMatch(/stream\?token=… → 200, closed after \d+ ms with no event/);
    expect(report.figures.rate429).toBeGreaterThan(0.3);
    expect(report.figures.naiveClientShare).toBe(1);
  });

  it('finds nothing in the fixed page against a sound server (exit 0)', async () => {
    const { code, report } = await analyzeJson(har('fixed'));
    expect(report.findings).toEqual([]);
    expect(code).toBe(0);
    expect(report.figures.streams).toBeGreaterThanOrEqual(1);
    expect(report.figures.naiveClientShare).toBe(0);
  });

  it('finds the one retry after a 400 of a page that asks again once, and no storm', async () => {
    const { report } = await analyzeJson(har('retry-400-once'));
    expect(report.findings.map((finding) => finding.id)).toEqual(['retry-after-terminal']);
    expect(report.findings[0]!.occurrences).toBe(1);
    expect(report.findings[0]!.layer).toBe('frontend');
  });

  it('writes a self-contained page with the timeline coloured by status', async () => {
    const page = join(dir, 'naive.html');
    await runCli(['analyze', har('naive'), '--html', page]);
    const html = readFileSync(page, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('fill="#e16f24"');
    expect(html).not.toMatch(/<script src=|<link /);
  });

  // Like with like: the HAR holds both phases of the storm (10 tokens served, each stream closed at once; then 429s),
  // the model paces each kind of end by its mean recorded interval (on a schedule, so a stall of this busy machine
  // is made up), and load runs as long as the storm lasted on a fresh generation of the same server: the same phases
  // in the same proportions.
  it('turns the naive HAR into a client model that makes load reproduce the storm rate within 20%', async () => {
    const model = join(dir, 'naive-model.json');
    const { report } = await analyzeJson(har('naive'), '--client-model', model);
    const storm = report.figures.storms[0]!;
    const generation = await createGeneration(buggy, FAILING);
    await untilStatus(buggy, generation, 'failed');
    const ids = join(dir, 'ids.txt');
    writeFileSync(ids, `${generation}\n`);
    const durationMs = Math.round(storm.seconds! * 1000);
    const load = await runCli(['load', '--base-url', buggy.baseUrl, '--auth', 'alice', '--ids', ids, '--clients', '1', '--duration', `${durationMs}ms`, '--client-model', model, '--json']);
    const metrics = (JSON.parse(load.stdout) as { metrics: { durationMs: number; responses: Record<string, Record<string, number>> } }).metrics;
    const requests = [metrics.responses.token!, metrics.responses.stream!].flatMap((byStatus) => Object.values(byStatus)).reduce((a, b) => a + b, 0);
    // Requests in a window over the window (the storm's rate is n - 1 gaps over the time from its first request to its last).
    const rate = requests / (metrics.durationMs / 1000);
    // The same two phases as the recording: every token the window allows served (each stream closed at once), then 429s.
    expect(metrics.responses.token!['200']).toBe(10);
    expect(metrics.responses.stream!['200']).toBe(10);
    expect(metrics.responses.token!['429']).toBeGreaterThan(0);
    expect(Math.abs(rate - storm.perSecond!) / storm.perSecond!).toBeLessThan(0.2);
  }, 30_000);
});
