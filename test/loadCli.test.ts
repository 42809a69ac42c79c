import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { startReferenceServer, type ReferenceServer } from '../src/server/referenceServer.js';


interface LoadJson {
  metrics: {
    peakOpenStreams: number;
    streamsOpened: number;
    events: number;
    flows: number;
    tokenRequests: number;
    processes: number;
    errors: Record<string, number>;
    latencyMs: Record<string, { p50: number; p95: number; p99: number; max: number; count: number }>;
  };
  thresholds: { threshold: string; actual: number; ok: boolean }[];
  verdict: string;
}

let server: ReferenceServer;
let target: string[];
beforeAll(async () => {
  server = await startReferenceServer({ port: 0, timings: { generationMs: 300, heartbeatMs: 50, streamMaxMs: 5000 } });
  target = ['--base-url', server.baseUrl, '--auth', 'cli-load-user'];
});
afterAll(() => server.close());

describe('sse-doctor load (built CLI)', () => {
  it('says up front when the clients cannot all have a socket, and calls EMFILE the tool\'s limit, not the target\'s', async () => {
    // Generations of 2 s: a client that waits long for the CPU between its create and its token request (300 of them on a
    // busy machine) still finds its generation running; a finished one rightly answers 400, which would be another error.
    const slowServer = await startReferenceServer({ port: 0, timings: { generationMs: 2000, heartbeatMs: 50, streamMaxMs: 5000 } });
    const run = await runCli(['load', '--base-url', slowServer.baseUrl, '--auth', 'cli-load-user', '--clients', '300', '--duration', '3s', '--json'], {
      openFilesLimit: 200,
    }).finally(() => slowServer.close());
    // A third of the clients never got a socket: too many errors for a pass (the default error-rate gate).
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('300 clients per process need as many sockets, but a process may open 200 files here (ulimit -n): use --workers 3');
    const json = JSON.parse(run.stdout) as LoadJson & { warnings: string[] };
    // The clients that got a socket did their work (how many streams are open at the same instant depends on how fast
    // a busy machine turns flows around), and never more at once than the file limit allows.
    expect(json.metrics.streamsOpened).toBeGreaterThan(100);
    expect(json.metrics.peakOpenStreams).toBeLessThan(200);
    // Clients that got no socket fail at their first request; nothing else went wrong.
    expect(Object.keys(json.metrics.errors)).toContain('create-local-limit');
    expect(Object.keys(json.metrics.errors).filter((kind) => !kind.endsWith('local-limit'))).toEqual([]);
    expect(json.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/ran out of file descriptors \d+ times \(EMFILE\): those errors are the tool's limit/)]));
    expect(json.thresholds).toContainEqual(expect.objectContaining({ threshold: 'errorRate<=0.05 (default)', ok: false }));
  });

  it('prints the JSON the issue asks for and passes thresholds that hold', async () => {
    const run = await runCli(['load', ...target, '--clients', '20', '--duration', '1500ms', '--json', '--threshold', 'p95(firstEvent)<5s', '--threshold', 'rate429<0.05']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout) as LoadJson;
    expect(json.metrics.peakOpenStreams).toBe(20);
    expect(json.metrics.streamsOpened).toBeGreaterThanOrEqual(40);
    expect(json.metrics.latencyMs.firstEvent!.count).toBe(json.metrics.streamsOpened);
    expect(json.thresholds.map((t) => [t.threshold, t.ok])).toEqual([
      ['p95(firstEvent)<5s', true],
      ['rate429<0.05', true],
      ['streams opened > 0 (default)', true],
      ['errorRate<=0.05 (default)', true],
    ]);
    expect(json.verdict).toBe('pass');
  }, 15_000);

  it('names a missed threshold and exits 1', async () => {
    const run = await runCli(['load', ...target, '--rate', '20/s', '--duration', '1s', '--threshold', 'p50(firstEvent)<1ms']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/✗ p50\(firstEvent\)<1ms missed: \d/);
    expect(run.stdout).toContain('20 clients/s (open model)');
  }, 15_000);

  it.each([
    [['--threshold', 'p95(firstEvnt)<500ms'], /unknown latency "firstEvnt"/],
    [['--clients', '5', '--rate', '5/s'], /option '--clients <n>' cannot be used with option '--rate <r>'/],
    [['--rate', 'fast'], /'--rate <r>' argument 'fast' is invalid. expected a rate such as 50\/s/],
    [['--client', 'sloppy'], /'--client <model>' argument 'sloppy' is invalid. Allowed choices are/],
    [['--shard', '2/2'], /'--shard <i\/n>' argument '2\/2' is invalid. expected i\/n with 0 <= i < n/],
    [['--url', 'http://127.0.0.1:1/x', '--token-spam'], /--token-spam: needs a profile with a token endpoint/],
    [['--ids', '/nonexistent/ids.txt'], /--ids: cannot read/],
  ])('rejects bad input %j with one line and exit 2', async (args, message) => {
    const run = await runCli(['load', ...target, '--duration', '1s', ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exits 3 when nothing answers', async () => {
    const run = await runCli(['load', '--base-url', 'http://127.0.0.1:9/api', '--auth', 'x', '--clients', '2', '--duration', '1s']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/create request: nothing answered: is the server running/);
  }, 15_000);

  it('--workers 2 merges the workers exactly: the same counts as one process', async () => {
    const args = ['load', ...target, '--clients', '6', '--max-requests', '36', '--duration', '8s', '--json'];
    const [one, two] = await Promise.all([runCli(args), runCli([...args, '--workers', '2'])]);
    expect(two.stderr).toBe('');
    expect(two.code).toBe(0);
    const a = JSON.parse(one.stdout) as LoadJson;
    const b = JSON.parse(two.stdout) as LoadJson;
    expect(b.metrics.processes).toBe(2);
    // 36 requests = 12 flows of create + token + stream, split 18/18 between the workers.
    expect(b.metrics.flows).toBe(12);
    for (const key of ['flows', 'streamsOpened', 'tokenRequests', 'events'] as const) expect(b.metrics[key]).toBe(a.metrics[key]);
    // Not gaps: how many heartbeats fill a silence depends on timing, not on the work.
    for (const metric of ['tokenRequest', 'firstEvent', 'streamDuration']) {
      expect(b.metrics.latencyMs[metric]!.count).toBe(a.metrics.latencyMs[metric]!.count);
    }
  }, 20_000);

  it('--token-spam counts 200s and 429s of the token endpoint only', async () => {
    const run = await runCli(['load', ...target, '--token-spam', '--clients', '3', '--duration', '700ms', '--json']);
    const json = JSON.parse(run.stdout) as LoadJson & { metrics: { responses: { token: Record<string, number>; stream: Record<string, number> }; rate429: number } };
    expect(json.metrics.responses.token['200']).toBe(30);
    expect(json.metrics.responses.token['429']).toBeGreaterThan(0);
    expect(json.metrics.responses.stream).toEqual({});
    expect(json.metrics.rate429).toBeGreaterThan(0);
  }, 15_000);

  it('--html writes the page next to the table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sse-doctor-load-'));
    const run = await runCli(['load', ...target, '--clients', '5', '--duration', '1s', '--html', 'report.html'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('report page written to report.html');
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toContain('<svg data-chart="open"');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
    expect(html).not.toContain('cli-load-user');
  }, 15_000);
});
