import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { proxyOptionsFromFlags } from '../src/cli/proxy.js';
import { replaySettingsFromFlags } from '../src/cli/replay.js';
import { runCli, startCli } from './helpers/cli.js';
import { startMisbehavingServer, writeChunks, type MisbehavingServer } from './helpers/misbehaving.js';

describe('replay and proxy flags', () => {
  it('normalises replay flags with safe defaults', () => {
    expect(replaySettingsFromFlags({})).toEqual({
      clients: undefined,
      maxRequests: 200,
      maxDurationMs: undefined,
      requests: 30,
      ratePerSecond: 10,
      slow: false,
      cut: { afterEvents: 2, afterMs: undefined, reset: false },
    });
    expect(replaySettingsFromFlags({ client: 'naive', maxDuration: '5s', cutAfterMs: '250', reset: true, slow: true })).toMatchObject({
      clients: ['naive'],
      maxDurationMs: 5000,
      slow: true,
      cut: { afterEvents: undefined, afterMs: 250, reset: true },
    });
  });

  it.each([
    [{ client: 'turbo' }, /--client: unknown client model "turbo"/],
    [{ maxRequests: '0' }, /--max-requests: must be at least 1/],
    [{ rate: 'fast' }, /--rate: "fast" is not a whole number/],
    [{ cutAfterEvents: '2', cutAfterMs: '100' }, /either --cut-after-events or --cut-after-ms/],
    [{ maxDuration: 'soon' }, /--max-duration: "soon" is not a duration/],
  ])('rejects replay flags %o', (flags, message) => {
    expect(() => replaySettingsFromFlags(flags)).toThrow(UsageError);
    expect(() => replaySettingsFromFlags(flags)).toThrow(message);
  });

  it('normalises proxy flags: bare numbers are milliseconds', () => {
    expect(proxyOptionsFromFlags({ target: 'http://127.0.0.1:8000/api/', cutAfterMs: '1500', reset: true, latency: '200', buffer: '2s' })).toEqual({
      target: 'http://127.0.0.1:8000/api',
      port: 0,
      rules: { cutAfterEvents: undefined, cutAfterMs: 1500, reset: true, latencyMs: 200, bufferMs: 2000 },
    });
  });

  it.each([
    [{ target: 'localhost:8000' }, /--target: "localhost:8000"/],
    [{ target: 'http://127.0.0.1:1', cutAfterEvents: '1', cutAfterMs: '5' }, /not both/],
    [{ target: 'http://127.0.0.1:1', reset: true }, /--reset: needs/],
    [{ target: 'http://127.0.0.1:1', listen: '70000' }, /--listen: 70000 is not a port/],
  ])('rejects proxy flags %o', (flags, message) => {
    expect(() => proxyOptionsFromFlags(flags)).toThrow(message);
  });
});

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
    expect(connections[1]?.sinceLastMs).toEqual(expect.any(Number));
    expect(items.at(-1)).toMatchObject({ kind: 'summary', requests: 2, streams: 2, cuts: 2 });
  });
});
