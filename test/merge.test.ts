import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './helpers/cli.js';
import { startReferenceServer, type ReferenceServer } from '../src/server/referenceServer.js';


type Metrics = Record<string, unknown> & { latencyMs: Record<string, { count: number }>; responses: unknown };

let server: ReferenceServer;
let dir: string;
let whole: CliRun;
let shard0: CliRun;
let shard1: CliRun;
// Every test reads these runs and part files; none depends on another test having run first.
beforeAll(async () => {
  server = await startReferenceServer({ port: 0, timings: { generationMs: 300, heartbeatMs: 50, streamMaxMs: 5000 } });
  dir = mkdtempSync(join(tmpdir(), 'sse-doctor-merge-'));
  // A deterministic run: 8 clients, 48 requests = 16 flows of create + token + stream.
  const common = ['load', '--base-url', server.baseUrl, '--auth', 'merge-user', '--clients', '8', '--max-requests', '48', '--duration', '8s'];
  [whole, shard0, shard1] = await Promise.all([
    runCli([...common, '--json'], { cwd: dir }),
    runCli([...common, '--shard', '0/2', '--part', 'part-0.json', '--json'], { cwd: dir }),
    runCli([...common, '--shard', '1/2', '--part', 'part-1.json', '--json'], { cwd: dir }),
  ]);
}, 20_000);
afterAll(() => server.close());

describe('sse-doctor load --shard + sse-doctor merge (built CLI)', () => {
  it('two shards merged give the same counts as one run', async () => {
    expect([whole.code, shard0.code, shard1.code], [whole, shard0, shard1].map((run) => run.stderr + run.stdout.slice(0, 600)).join('\n')).toEqual([0, 0, 0]);
    expect(shard0.stderr).toContain('wrote shard 0/2 to part-0.json');
    const merged = await runCli(['merge', 'part-0.json', 'part-1.json', '--json', '--threshold', 'streamsOpened>=16'], { cwd: dir });
    expect(merged.code).toBe(0);
    const a = (JSON.parse(whole.stdout) as { metrics: Metrics }).metrics;
    const b = JSON.parse(merged.stdout) as { metrics: Metrics; shardsMerged: number[]; verdict: string };
    expect(b.shardsMerged).toEqual([0, 1]);
    expect(b.verdict).toBe('pass');
    for (const key of ['flows', 'createRequests', 'tokenRequests', 'connections', 'streamsOpened', 'events', 'errors', 'responses']) {
      expect(b.metrics[key], key).toEqual(a[key]);
    }
    // Not gaps: how many heartbeats fill a silence depends on timing, not on the work.
    for (const metric of ['tokenRequest', 'headers', 'firstEvent', 'streamDuration']) {
      expect(b.metrics.latencyMs[metric]!.count, metric).toBe(a.latencyMs[metric]!.count);
    }
    expect(a.flows).toBe(16);
  });

  it('refuses a part given twice, a file that is not a part, and says when shards are missing', async () => {
    const twice = await runCli(['merge', 'part-0.json', 'part-0.json'], { cwd: dir });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/shard 0 is also in part-0\.json/);
    writeFileSync(join(dir, 'other.json'), '{"hello":1}');
    const other = await runCli(['merge', 'other.json'], { cwd: dir });
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/other\.json: not an sse-doctor load part/);
    const missing = await runCli(['merge', 'part-1.json', '--out', 'merged.json'], { cwd: dir });
    expect(missing.code).toBe(0);
    expect(missing.stdout).toContain('only 1 of 2 shards merged');
    expect(JSON.parse(readFileSync(join(dir, 'merged.json'), 'utf8')).format).toBe('sse-doctor-load-part/1');
  }, 15_000);
});
