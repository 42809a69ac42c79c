import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../src/browser/chromium.js';
import type { AnalyzeReport } from '../src/analyze/read.js';
import { analyzeJson } from './helpers/analyzeRun.js';
import { recordHar } from './helpers/harRecorder.js';
import { startFastApiBackend, startNginx, type NginxTarget, type PythonTarget } from './helpers/realTargets.js';

// The seed-000 incident on real software: the naive test frontend in Chromium, through a real
// nginx, into the FastAPI backend under real uvicorn with the seed's bug (a silent 200 for a
// terminal generation). Witnesses of one run: the browser's HAR, uvicorn's access log (with the
// times its logging config adds, and without them as uvicorn's default writes it), nginx's
// combined log and its request-time variant.
const dir = mkdtempSync(join(tmpdir(), 'sse-doctor-analyze-logs-'));
const FAILING = 'Please fail this generation on purpose (analyze test).';

let backend: PythonTarget;
let nginx: NginxTarget;
let browser: Browser;


beforeAll(async () => {
  [backend, browser] = await Promise.all([startFastApiBackend({ faults: ['immediate-close'], timings: { generationMs: 1200 } }), launchChromium()]);
  nginx = await startNginx({ upstream: backend.baseUrl, variant: 'sse-correct' });
  await recordHar(browser, { api: nginx.baseUrl, behaviour: 'naive', extra: { prompt: FAILING }, tokenRequests: 16, harPath: join(dir, 'naive.har') });
  // nginx and uvicorn write their lines as each response ends: wait until their logs stop growing.
  await Promise.all([backend.accessLogPath, nginx.accessLogPath, nginx.timedAccessLogPath].map(untilQuiet));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([nginx?.close(), backend?.close()]);
});

describe('analyze on the access logs of a naive frontend against the seed-000 bug', () => {
  it('the HAR names the storm with its rate and the 200 for the terminal generation', async () => {
    const { code, report } = await analyzeJson(join(dir, 'naive.har'));
    expect(code).toBe(1);
    expect(report.findings.map((finding) => finding.id)).toEqual(expect.arrayContaining(['retry-storm', 'terminal-stream-200', 'inside-429-window']));
    expect(report.figures.storms[0]!.perSecond).toBeGreaterThan(0);
  });

  it("uvicorn's log finds the same storm, with its rate where the log config gives times, and the same silent 200s", async () => {
    const { code, report } = await analyzeJson(backend.accessLogPath);
    expect(code).toBe(1);
    expect(report.files[0]).toMatchObject({ format: 'uvicorn', unreadable: 0 });
    expect(report.findings.map((finding) => finding.id)).toEqual(expect.arrayContaining(['retry-storm', 'terminal-stream-200', 'inside-429-window']));
    expect(report.findings.find((finding) => finding.id === 'terminal-stream-200')!.layer).toBe('backend');
    expect(report.figures.storms[0]!.perSecond).toBeGreaterThan(0);
    // Both witnesses count the same token requests; those the page cut at its close may or may not have reached uvicorn,
    // and the naive page (one request at a time) may have sent one more as the recording closed, which the HAR never saw.
    const har = (await analyzeJson(join(dir, 'naive.har'))).report;
    expect(report.figures.tokenRequests).toBeGreaterThanOrEqual(har.figures.tokenRequests - countUnanswered(har));
    expect(report.figures.tokenRequests).toBeLessThanOrEqual(har.figures.tokenRequests + 1);
  });

  it("uvicorn's default format (no times) finds them from order and counts alone", async () => {
    // The same lines without the logging config's asctime: what uvicorn writes by default.
    const untimed = join(dir, 'uvicorn-default.log');
    writeFileSync(untimed, readFileSync(backend.accessLogPath, 'utf8').replace(/^\S+ \S+ (?=INFO:)/gm, ''));
    const { code, report } = await analyzeJson(untimed);
    expect(code).toBe(1);
    expect(report.findings.map((finding) => finding.id)).toEqual(expect.arrayContaining(['retry-storm', 'terminal-stream-200', 'inside-429-window']));
    expect(report.findings.find((finding) => finding.id === 'retry-storm')!.summary).toContain('no rate: order and counts only');
    expect(report.figures.peakRequestsPerSecond).toBeUndefined();
    expect(report.timeline.unit).toBe('requests');
  });

  it("nginx's combined log and its request-time variant find the storm; only the variant times the streams", async () => {
    const combined = await analyzeJson(nginx.accessLogPath);
    const timed = await analyzeJson(nginx.timedAccessLogPath);
    for (const { report } of [combined, timed]) {
      expect(report.files[0]!.format).toBe('nginx');
      expect(report.files[0]!.unreadable).toBe(0);
      expect(report.findings.map((finding) => finding.id)).toEqual(expect.arrayContaining(['retry-storm', 'inside-429-window', 'terminal-stream-200']));
      expect(report.figures.peakRequestsPerSecond).toBeGreaterThan(1);
    }
    expect(combined.report.figures.streamDurationMs.count).toBe(0);
    expect(timed.report.figures.streamDurationMs.count).toBeGreaterThan(5);
    expect(timed.report.figures.streamDurationMs.p50).toBeLessThan(1000);
  });
});

/** Requests the browser cut before an answer (the page closing). */
function countUnanswered(report: AnalyzeReport): number {
  return report.clients.reduce((sum, client) => sum + (client.statuses.none ?? 0), 0);
}

/** Resolves once `file` has not grown for half a second (at most 10 s): a loaded machine writes logs late. */
async function untilQuiet(file: string): Promise<void> {
  let size = -1;
  for (let waited = 0; waited < 10_000; waited += 500) {
    const now = statSync(file).size;
    if (now === size) return;
    size = now;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
