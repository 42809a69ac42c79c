import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReferenceServer, type ReferenceServer } from '../src/server/referenceServer.js';
import { runCli, startCli } from './helpers/cli.js';
import { sseHeaders, startMisbehavingServer, writeChunks, type MisbehavingServer } from './helpers/misbehaving.js';

let server: MisbehavingServer;
beforeAll(async () => {
  server = await startMisbehavingServer({
    '/chat': (_req, res) => writeChunks(res, ['data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n', 'data: [DONE]\n\n'], 5),
    '/broken': (_req, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"detail":"boom"}'),
    // One event, then silence for as long as the client stays.
    '/one-then-silence': (_req, res) => {
      res.writeHead(200, sseHeaders);
      res.write('data: {"n":1}\n\n');
    },
  });
});
afterAll(() => server.close());

const json = (stdout: string) => JSON.parse(stdout) as { metrics: { errors: Record<string, number>; errorRate: number; latencyMs: { gap: { max: number } } }; thresholds: { threshold: string; ok: boolean }[]; verdict: string };

describe.concurrent('load --url', () => {
  it('counts an OpenAI-style stream ending with [DONE] as a clean end', async () => {
    const run = await runCli(['load', '--url', server.url('/chat'), '--clients', '2', '--max-requests', '4', '--duration', '30s', '--retry-delays', '50ms', '--json']);
    expect(json(run.stdout).metrics.errors).toEqual({});
    expect(run.code).toBe(0);
  });

  it('does not pass a run where every request failed', async () => {
    const run = await runCli(['load', '--url', server.url('/broken'), '--clients', '2', '--max-requests', '4', '--duration', '30s', '--retry-delays', '50ms', '--json']);
    const report = json(run.stdout);
    expect(report.metrics.errorRate).toBe(1);
    expect(report.verdict).toBe('fail');
    expect(run.code).toBe(1);
  });

  it('counts a silence still open at the end in the gap figures and thresholds', async () => {
    const run = await runCli(['load', '--url', server.url('/one-then-silence'), '--clients', '2', '--duration', '3s', '--silence', '60s', '--threshold', 'max(gap)<1s', '--json']);
    const report = json(run.stdout);
    // One event per stream: the only gap there is, is the silence the run's end cut.
    expect(report.metrics.latencyMs.gap.max).toBeGreaterThan(1000);
    expect(report.thresholds).toContainEqual(expect.objectContaining({ threshold: 'max(gap)<1s', ok: false }));
    expect(run.code).toBe(1);
  });
});

describe('load --workers 2', () => {
  let reference: ReferenceServer;
  beforeAll(async () => {
    reference = await startReferenceServer({ port: 0, faults: [], timings: { generationMs: 20_000, heartbeatMs: 200 } });
  });
  afterAll(() => reference.close());

  it('stopped by Ctrl-C, ends without a stack trace from its workers', async () => {
    const { child, exited } = startCli(['load', '--base-url', reference.baseUrl, '--auth', 'alice', '--clients', '8', '--duration', '20s', '--workers', '2', '--json']);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    child.kill('SIGINT');
    const run = await exited;
    expect(run.stderr).not.toMatch(/ERR_IPC|EPIPE|\n\s+at /);
  }, 60_000);
});
