import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { splitBytes, startMisbehavingServer, writeChunks, type MisbehavingServer } from './helpers/misbehaving.js';

const ndjson = (text: string) => text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

// Every awkward thing the WHATWG rules define, in one stream, delivered 3 bytes at a time.
const WHATWG_STREAM =
  '\uFEFF: a comment\r\n' +
  'id: 1\r\nevent: content_chunk\r\ndata: {"text":"héllo ✓"}\r\n\r\n' +
  'data\n\n' +
  'data: first\rdata: second\r\r' +
  'foo: bar\ndata: after unknown field\n\n' +
  'event: complete\ndata: {"reason":"done"}\n\n' +
  'data: never terminated';

let server: MisbehavingServer;
beforeAll(async () => {
  server = await startMisbehavingServer({
    '/whatwg': (_req, res) => writeChunks(res, splitBytes(WHATWG_STREAM, 3), 1),
    '/html': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>'),
    '/endless-line': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write('y'.repeat(65_536))), 1);
    },
    // A comment, then the connection drops: no event, so each reconnect counts against --max-retries.
    '/drop': (_req, res) => {
      writeChunks(res, [': hello\n\n'], 1, false);
      setTimeout(() => res.socket?.destroy(), 10);
    },
    '/echo-auth': (req, res) => writeChunks(res, [`data: you sent ${req.headers.authorization}\n\n`, 'event: complete\ndata: {}\n\n'], 1),
  });
});
afterAll(() => server.close());

describe('sse-doctor tail --url (built CLI)', () => {
  it('dispatches exactly what the WHATWG parsing rules say', async () => {
    const run = await runCli(['tail', '--url', server.url('/whatwg'), '--json']);
    const items = ndjson(run.stdout);
    const events = items.filter((item) => item.kind === 'event').map(({ id, event, data }) => ({ id, event, data }));
    expect(events).toEqual([
      { id: '1', event: 'content_chunk', data: '{"text":"héllo ✓"}' },
      { id: null, event: null, data: '' },
      { id: null, event: null, data: 'first\nsecond' },
      { id: null, event: null, data: 'after unknown field' },
      { id: null, event: 'complete', data: '{"reason":"done"}' },
    ]);
    expect(items.filter((item) => item.kind === 'comment').map((item) => item.text)).toEqual(['a comment']);
    expect(items.filter((item) => item.kind === 'diagnostic').map((item) => item.code)).toEqual(['unknown-field', 'unterminated-event']);
    const summary = items.at(-1)!;
    expect(summary).toMatchObject({ kind: 'summary', events: 5, ended: 'clean-terminal', ok: true });
    expect(run.code).toBe(0);
  });

  it('a server that sends garbage: one summary, exit 1, no retry storm', async () => {
    const run = await runCli(['tail', '--url', server.url('/html')]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/wrong content type "text\/html"/);
    expect(run.stderr).toBe('');
  });

  it('an endless line is a finding, not an out-of-memory', async () => {
    const run = await runCli(['tail', '--url', server.url('/endless-line'), '--json']);
    expect(run.code).toBe(1);
    expect(ndjson(run.stdout).at(-1)).toMatchObject({ kind: 'summary', ended: 'line-too-long' });
  });

  it('never prints the bearer, even when the server echoes it', async () => {
    const run = await runCli(['tail', '--url', server.url('/echo-auth'), '--auth', 'sup3r-s3cret-bearer']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('you sent Bearer ***');
    expect(run.stdout + run.stderr).not.toContain('sup3r-s3cret-bearer');
  });
});

describe('the client-policy flags drive tail', () => {
  it.each([
    [0, 0],
    [2, 2],
  ])('--max-retries %i: %i reconnects to a stream that keeps dropping, then it gives up (exit 1)', async (maxRetries, reconnects) => {
    const run = await runCli(['tail', '--url', server.url('/drop'), '--json', '--max-retries', String(maxRetries), '--retry-delays', '10ms']);
    const items = ndjson(run.stdout);
    expect(items.filter((item) => item.kind === 'reconnect').map((item) => item.delayMs)).toEqual(Array(reconnects).fill(10));
    expect(items.find((item) => item.kind === 'stop')).toMatchObject({ gaveUp: true, reason: expect.stringMatching(new RegExp(`^gave up after ${maxRetries} retries`)) });
    expect(run.code).toBe(1);
  });
});

describe('bad input gets one line and the right exit code', () => {
  it('an unreachable host exits 3 without a stack trace', async () => {
    const dead = await startMisbehavingServer({});
    const url = dead.url('/api');
    await dead.close();
    const run = await runCli(['tail', 'some-id', '--base-url', url, '--auth', 'x']);
    expect(run.code).toBe(3);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/nothing answered \(ECONNREFUSED\): is the server running/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it.each([
    [['tail', 'x', '--base-url', 'not a url'], /--base-url: "not a url" is not a valid URL/],
    [['tail', '--url', 'ftp://host/x'], /must be an http/],
    [['tail', '--bogus'], /unknown option '--bogus'/],
    [['serve', '--fault', 'nope'], /--fault <names>' argument 'nope' is invalid. unknown fault "nope"/],
    [['nosuchcommand'], /unknown command/],
  ])('%j exits 2', async (args, message) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('a bad config file names the failing path and exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sse-doctor-cli-'));
    writeFileSync(join(dir, 'sse-doctor.config.json'), JSON.stringify({ profile: { limits: { heartbeatSeconds: 'often' } } }));
    const run = await runCli(['tail', 'x'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('sse-doctor: profile.limits.heartbeatSeconds: expected a finite number of seconds >= 0');
  });

  it('--help and --version exit 0', async () => {
    expect((await runCli(['--help'])).code).toBe(0);
    expect((await runCli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
