import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultName } from '../src/server/settings.js';
import { runCli, startCli } from './helpers/cli.js';
import { startMisbehavingServer, writeChunks, type MisbehavingServer } from './helpers/misbehaving.js';
import { BACKENDS } from './helpers/realTargets.js';

describe('the built CLI', () => {
  let upstream: MisbehavingServer;
  beforeAll(async () => {
    upstream = await startMisbehavingServer({
      '/api/stream': (_req, res) => writeChunks(res, ['data: {"n":1}\n\n', 'data: {"n":2}\n\n', 'data: {"n":3}\n\n'], 20),
    });
  });
  afterAll(() => upstream.close());

  it('replay --list names every built-in scenario with a description', async () => {
    const run = await runCli(['replay', '--list']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n').map((line) => line.split(/\s+/)[0])).toEqual(['failed-generation', 'rate-limit-spam', 'network-cutoff', 'retry-storm', 'silent-stall']);
  });

  it('replay: an unknown scenario is a usage error (exit 2), an unreachable target exit 3', async () => {
    const unknown = await runCli(['replay', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown scenario "nope"/);
    const unreachable = await runCli(['replay', 'failed-generation', '--base-url', 'http://127.0.0.1:9/api', '--auth', 'alice']);
    expect(unreachable.code).toBe(3);
  });

  it('proxy prints its URL first, logs a cut with reconnect intervals, and stops on SIGINT', async () => {
    const cli = startCli(['proxy', '--target', upstream.url('/api'), '--cut-after-events', '2', '--json']);
    const lines = createInterface({ input: cli.child.stdout });
    const items: Record<string, unknown>[] = [];
    const next = () => new Promise<Record<string, unknown>>((resolve) => lines.once('line', (line) => resolve(JSON.parse(line) as Record<string, unknown>)));
    const listening = await next();
    expect(listening).toMatchObject({ kind: 'listening', target: upstream.url('/api') });
    lines.on('line', (line) => items.push(JSON.parse(line) as Record<string, unknown>));
    for (let i = 0; i < 2; i++) await (await fetch(`${String(listening.url)}/stream?token=secretsecretsecret`)).text().catch(() => '');
    for (let i = 0; i < 50 && items.filter((item) => item.kind === 'end').length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
    const ends = items.filter((item) => item.kind === 'end');
    expect(ends.map((end) => [end.action, end.events])).toEqual([['cut-fin', 2], ['cut-fin', 2]]);
    const connections = items.filter((item) => item.kind === 'connection');
    expect(connections[0]?.path).toBe('/api/stream?token=secr…ret');
    expect(connections[1]).toMatchObject({ reconnectDelayMs: expect.any(Number), tokenReused: true });
    expect(items.at(-1)).toMatchObject({ kind: 'summary', requests: 2, streams: 2, cuts: 2 });
  });
});

describe.each(BACKENDS)('replay retry-storm with the built CLI against the %s backend', (_name, start, pace) => {
  // The generation fails at three quarters of this; the storm is judged by counts, bounded by --max-requests.
  const timings = { generationMs: 1000 * pace };
  it.concurrent.each([
    [[] as FaultName[], 0, 'pass', 'terminal event', 1],
    [['immediate-close'] as FaultName[], 1, 'fail', '429 at request 11', 30],
  ])('faults %j: exit %i, verdict %s, stopped by %s, %i token requests', async (faults, code, verdict, stoppedBy, tokenRequests) => {
    const backend = await start({ faults, timings });
    try {
      const run = await runCli(['replay', 'retry-storm', '--base-url', backend.baseUrl, '--auth', 'alice', '--max-requests', '30', '--json']);
      expect(run.code, run.stderr).toBe(code);
      expect(JSON.parse(run.stdout)).toMatchObject({ scenario: 'retry-storm', client: 'naive', verdict, metrics: { tokenRequests }, details: { 'stopped by': stoppedBy } });
    } finally {
      await backend.close();
    }
  });
});
