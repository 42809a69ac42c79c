import { describe, expect, it } from 'vitest';
import { delayList, duration, positiveInt } from '../src/options/parse.js';
import { parseArgv } from './helpers/argv.js';

const BASE = ['--base-url', 'http://127.0.0.1:9/api'];

describe('the one duration grammar', () => {
  it.each([
    ['500ms', 500],
    ['2s', 2000],
    ['1.5s', 1500],
    ['1m', 60_000],
    ['0s', 0],
  ])('%s is %d ms', (raw, ms) => expect(duration(raw)).toBe(ms));

  it.each([
    ['5', /bare number is ambiguous: add a unit \(5ms, 5s or 5m\)/],
    ['soon', /expected a duration such as 500ms, 2s or 1m/],
    ['2h', /expected a duration/],
    ['-1s', /expected a duration/],
  ])('rejects %s', (raw, message) => expect(() => duration(raw)).toThrow(message));

  it('reads a schedule of waits, each within the clamp', () => {
    expect(delayList('2s, 500ms,1m')).toEqual([2000, 500, 60_000]);
    expect(() => delayList('2s,61m')).toThrow(/at most 60m/);
  });
  it('positiveInt rejects 0 and junk', () => {
    expect(positiveInt('3')).toBe(3);
    expect(() => positiveInt('0')).toThrow(/>= 1/);
    expect(() => positiveInt('2.5')).toThrow(/whole number/);
  });
});

describe('argv -> options (no network)', () => {
  it('tail: a repeatable -H never swallows the generation id (issue 11 §7)', async () => {
    const parsed = await parseArgv(['tail', ...BASE, '-H', 'X-A: 1', '-H', 'X-B: 2', 'gen-42']);
    expect(parsed).toMatchObject({ options: { generationId: 'gen-42', target: { headers: { 'X-A': '1', 'X-B': '2' } } } });
  });

  it('tail is bounded unless asked: generation timeout plus stream cap by default, --max-duration, or --follow (issue 11)', async () => {
    expect(await parseArgv(['tail', ...BASE, 'g'])).toMatchObject({ options: { maxDurationMs: 180_000 } });
    expect(await parseArgv(['tail', ...BASE, '--max-duration', '5s', 'g'])).toMatchObject({ options: { maxDurationMs: 5000 } });
    expect(await parseArgv(['tail', ...BASE, '--follow', 'g'])).toMatchObject({ options: { maxDurationMs: undefined } });
    expect(await parseArgv(['tail', ...BASE, '--follow', '--max-duration', '5s', 'g'])).toMatchObject({ error: expect.stringMatching(/--follow.*cannot be used with.*--max-duration/) });
  });

  it('--follow-redirects is one flag on every command that talks to the target, off by default', async () => {
    for (const argv of [['token', 'g'], ['tail', 'g'], ['check'], ['replay', 'retry-storm'], ['load']]) {
      const target = (followRedirects: boolean) => (argv[0] === 'load' ? { options: { plan: { target: { followRedirects } } } } : { options: { target: { followRedirects } } });
      expect(await parseArgv([...argv, ...BASE, '--follow-redirects']), argv.join(' ')).toMatchObject(target(true));
      expect(await parseArgv([...argv, ...BASE]), argv.join(' ')).toMatchObject(target(false));
    }
  });

  it('tail, replay and load share the client-policy flags', async () => {
    const policy = ['--max-retries', '0', '--retry-delays', '1s,3s', '--silence', '2500ms'];
    const expected = { maxRetries: 0, retryDelaysSeconds: [1, 3], silenceSeconds: 2.5 };
    for (const argv of [['tail', ...BASE, ...policy, '7'], ['replay', ...BASE, ...policy, 'retry-storm'], ['load', ...BASE, ...policy]]) {
      const parsed = await parseArgv(argv);
      expect(parsed, argv[0]).toMatchObject({ options: {} });
      const options = (parsed as { options: { target?: { profile: { client: unknown } }; plan?: { target: { profile: { client: unknown } } } } }).options;
      expect((options.target ?? options.plan!.target).profile.client, argv[0]).toMatchObject(expected);
    }
  });

  it('load: durations, a rate, thresholds and choices become a frozen plan', async () => {
    const parsed = await parseArgv(['load', ...BASE, '--rate', '20/s', '--duration', '1500ms', '--ramp', '1s', '--client', 'naive', '--threshold', 'p95(firstEvent)<2s', '--threshold', 'rate429<5%']);
    expect(parsed).toMatchObject({
      options: {
        plan: { arrival: { kind: 'open', ratePerSecond: 20 }, durationMs: 1500, rampMs: 1000, client: 'naive' },
        thresholds: [{ limit: 2000 }, { limit: 0.05 }],
        workers: 1,
      },
    });
    expect(Object.isFrozen((parsed as { options: object }).options)).toBe(true);
  });

  it('load: the defaults are safe for a staging server', async () => {
    expect(await parseArgv(['load', ...BASE])).toMatchObject({ options: { plan: { arrival: { kind: 'closed', clients: 10 }, durationMs: 30_000, rampMs: 0, client: 'robust' } } });
  });

  it('replay and proxy: cut flags, with the scenario default', async () => {
    expect(await parseArgv(['replay', ...BASE, 'network-cutoff'])).toMatchObject({ options: { scenario: 'network-cutoff', settings: { cut: { afterEvents: 2, afterMs: undefined } } } });
    expect(await parseArgv(['replay', ...BASE, '--cut-after-time', '250ms', '--reset', 'network-cutoff'])).toMatchObject({
      options: { settings: { cut: { afterEvents: undefined, afterMs: 250, reset: true } } },
    });
    expect(await parseArgv(['proxy', '--target', 'http://127.0.0.1:8000/api/', '--cut-after-time', '1500ms', '--reset', '--latency', '200ms', '--buffer', '2s'])).toEqual({
      options: { target: 'http://127.0.0.1:8000/api', port: 0, rules: { cutAfterEvents: undefined, cutAfterMs: 1500, reset: true, latencyMs: 200, bufferMs: 2000 }, json: false, color: false },
    });
  });

  it('serve: durations for every timing', async () => {
    expect(await parseArgv(['serve', '--port', '0', '--generation', '1500ms', '--heartbeat', '300ms', '--fault', 'buffered,no-trace'])).toMatchObject({
      options: { port: 0, faults: ['buffered', 'no-trace'], timings: { generationMs: 1500, heartbeatMs: 300, rateLimit: 10 } },
    });
  });

  it('check: --only and --skip are comma lists, repeatable', async () => {
    expect(await parseArgv(['check', ...BASE, '--only', 'token.,stream.heartbeat', '--only', 'stream.headers', '--skip', 'token.auth'])).toMatchObject({
      options: { only: ['token.', 'stream.heartbeat', 'stream.headers'], skip: ['token.auth'] },
    });
  });

  it.each([
    [['load', ...BASE, '--duration', '30'], /--duration <duration>.*bare number is ambiguous: add a unit/],
    [['load', ...BASE, '--duration', '0s'], /--duration <duration>.*must be longer than 0/],
    [['load', ...BASE, '--clients', '5', '--rate', '5/s'], /--clients <n>.*cannot be used with option '--rate <r>'/],
    [['load', ...BASE, '--clients', '0'], /--clients <n>.*>= 1/],
    [['load', ...BASE, '--client', 'turbo'], /--client <model>.*Allowed choices are robust, naive, eventsource/],
    [['load', ...BASE, '--workers', '65'], /--workers <n>.*at most 64/],
    [['load', ...BASE, '--shard', '4/4'], /--shard <i\/n>.*0 <= i < n/],
    [['load', ...BASE, '--threshold', 'p95(firstEvent)<500'], /--threshold "p95\(firstEvent\)<500": a latency needs a unit/],
    [['load', '--url', 'http://127.0.0.1:9/x', '--token-spam'], /--token-spam: needs a profile with a token endpoint/],
    [['tail', ...BASE, '--max-retries', 'many'], /--max-retries <n>.*whole number/],
    [['tail', ...BASE, '--connect-timeout', '5'], /--connect-timeout <duration>.*add a unit/],
    [['tail', ...BASE, '--profile', 'grpc'], /--profile <name>.*Allowed choices are generations, generic/],
    [['replay', ...BASE, '--cut-after-events', '2', '--cut-after-time', '1s', 'x'], /cannot be used with option '--cut-after-time/],
    [['replay', ...BASE, '--max-requests', '0', 'x'], /--max-requests <n>.*>= 1/],
    [['proxy', '--target', 'http://127.0.0.1:1', '--reset'], /--reset: needs --cut-after-events or --cut-after-time/],
    [['proxy', '--target', 'http://127.0.0.1:1', '--listen', '70000'], /--listen <port>.*0-65535/],
    [['proxy', '--target', 'localhost:8000'], /--target: "localhost:8000"/],
    [['serve', '--fault', 'nope'], /--fault <names>.*unknown fault "nope"/],
    [['serve', '--generation-ms', '1500'], /unknown option '--generation-ms'/],
  ])('rejects %j in one line', async (argv, message) => {
    const parsed = await parseArgv(argv);
    expect(parsed).toHaveProperty('error');
    expect((parsed as { error: string }).error).toMatch(message);
  });
});
