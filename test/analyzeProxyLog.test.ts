import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReferenceServer, type ReferenceServer } from '../src/server/referenceServer.js';
import { analyzeJson } from './helpers/analyzeRun.js';
import { runCli, startCli } from './helpers/cli.js';

// A JSON-lines corpus from our own software: `proxy --json` in front of `serve` with the seed-000
// bug while `load` runs the naive client through it, bounded to 60 requests (or 20 s) on 127.0.0.1.
const dir = mkdtempSync(join(tmpdir(), 'sse-doctor-analyze-proxy-'));
const proxyLog = join(dir, 'proxy.ndjson');
let server: ReferenceServer;

beforeAll(async () => {
  server = await startReferenceServer({ faults: ['immediate-close'], timings: { generationMs: 100 } });
  const created = await fetch(`${server.baseUrl}/generations/generate`, {
    method: 'POST',
    headers: { Authorization: 'Bearer alice', 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: 'Please fail this generation on purpose.' }),
  });
  const ids = join(dir, 'ids.txt');
  writeFileSync(ids, `${((await created.json()) as { id: string }).id}\n`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const proxy = startCli(['proxy', '--target', server.baseUrl, '--json']);
  let log = '';
  const listening = new Promise<string>((resolve) =>
    proxy.child.stdout.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const url = /"url":"([^"]+)"/.exec(log)?.[1];
      if (url) resolve(url);
    }),
  );
  const url = await listening;
  await runCli(['load', '--base-url', url, '--auth', 'alice', '--ids', ids, '--clients', '1', '--client', 'naive', '--duration', '20s', '--max-requests', '60']);
  proxy.child.kill('SIGINT');
  await proxy.exited;
  writeFileSync(proxyLog, log);
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe("analyze on proxy --json's log", () => {
  it('reads it as JSON lines and finds the storm and the silent 200s', async () => {
    const { code, report } = await analyzeJson(proxyLog);
    expect(code).toBe(1);
    expect(report.files[0]).toMatchObject({ format: 'jsonl', unreadable: 0 });
    expect(report.findings.map((finding) => finding.id)).toEqual(expect.arrayContaining(['retry-storm', 'terminal-stream-200', 'inside-429-window']));
    expect(report.figures.storms[0]!.perSecond).toBeGreaterThan(0);
    expect(report.figures.streamDurationMs.count).toBeGreaterThan(0);
  });

  it('reads any JSON-lines log through logFields in the config file', async () => {
    const mapped = join(dir, 'mapped.ndjson');
    const lines = [
      { ts: '2025-10-16T16:44:13.000Z', req: { ip: '10.0.0.7', verb: 'POST', url: '/api/generations/generate/g1/stream-token' }, res: { code: 400 } },
      { ts: '2025-10-16T16:44:14.500Z', req: { ip: '10.0.0.7', verb: 'POST', url: '/api/generations/generate/g1/stream-token' }, res: { code: 400 } },
    ];
    writeFileSync(mapped, `${lines.map((line) => JSON.stringify(line)).join('\n')}\nnot json\n`);
    const config = join(dir, 'sse-doctor.config.json');
    writeFileSync(config, JSON.stringify({ logFields: { time: 'ts', client: 'req.ip', method: 'req.verb', path: 'req.url', status: 'res.code' } }));
    const { report } = await analyzeJson(mapped, '--config', config);
    expect(report.files[0]).toMatchObject({ format: 'jsonl', records: 2, unreadable: 1, unreadableLines: [3] });
    expect(report.findings.map((finding) => finding.id)).toEqual(['retry-after-terminal']);
    expect(report.clients[0]!.client).toBe('10.0.0.7');
    const bad = join(dir, 'bad.config.json');
    writeFileSync(bad, JSON.stringify({ logFields: { tim: 'ts' } }));
    const run = await runCli(['analyze', mapped, '--config', bad]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('logFields.tim: unknown field (did you mean "time"?)');
  }, 30_000);
});
