import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStream } from '../src/engine/connection.js';
import { terminalEventTest } from '../src/engine/contractEvents.js';
import { resolveTargetOptions } from '../src/options/options.js';
import { FAST_LIMITS, failures, runFastCheck } from './helpers/checkTarget.js';
import { runCli } from './helpers/cli.js';
import { startMisbehavingServer, writeCompressed, type MisbehavingServer } from './helpers/misbehaving.js';

// Seen behind `gzip on; gzip_types text/event-stream`: the tool asked for no encoding, so it never
// met what browsers meet; told to, it printed compressed bytes and reported false endings.
const events = [1, 2, 3].map((n) => `id: ${n}\nevent: content_chunk\ndata: {"text":"chunk ${n}","timestamp":${Date.now() / 1000}}\n\n`).concat('id: 4\nevent: complete\ndata: {"text":"done"}\n\n');

/** The events after the request's Last-Event-ID: the server resumes correctly. */
const after = (req: IncomingMessage) => events.slice(Number(req.headers['last-event-id'] ?? 0));

let server: MisbehavingServer;
const acceptEncodings: (string | undefined)[] = [];
beforeAll(async () => {
  server = await startMisbehavingServer({
    '/gzip': (req, res) => {
      acceptEncodings.push(req.headers['accept-encoding']);
      writeCompressed(res, 'gzip', after(req), 20);
    },
    '/gzip-nginx': (req, res) => writeCompressed(res, 'gzip', after(req), 20, { server: 'nginx/1.22.1' }),
    '/deflate': (_req, res) => writeCompressed(res, 'deflate', events, 20),
    '/br': (_req, res) => writeCompressed(res, 'br', events, 20),
  });
});
afterAll(() => server.close());

const genericTarget = (path: string) => {
  const resolved = resolveTargetOptions({ url: server.url(path) }, {}, tmpdir());
  return { ...resolved, profile: { ...resolved.profile, limits: { ...resolved.profile.limits, ...FAST_LIMITS } } };
};

describe('a compressed stream, as a browser meets it', () => {
  it.each(['gzip', 'deflate', 'br'] as const)('asks like a browser and decodes %s as it arrives', async (encoding) => {
    const seen: string[] = [];
    const profile = genericTarget('/').profile;
    const result = await openStream(
      { url: server.url(`/${encoding}`), silenceTimeoutMs: 0, maxLineBytes: 16_384, headersTimeoutMs: 2000, isTerminal: terminalEventTest(profile) },
      { onEvent: (event) => seen.push(event.data) },
    );
    expect(result.open?.contentEncoding).toBe(encoding);
    expect(seen).toHaveLength(4);
    expect(seen[0]).toContain('chunk 1');
    expect(result.end).toEqual({ kind: 'clean-terminal' });
    if (encoding === 'gzip') expect(acceptEncodings.at(-1)).toBe('gzip, deflate, br');
  });

  it('check fails stream.headers naming compression, and nothing else', async () => {
    const report = await runFastCheck(genericTarget('/gzip'));
    expect(Object.keys(failures(report))).toEqual(['stream.headers']);
    const headers = report.results.find((result) => result.id === 'stream.headers')!;
    expect(headers.message).toMatch(/compressed \(Content-Encoding: gzip\)/);
    expect(headers.layer).toBe('backend');
  });

  it('behind nginx, the compression is the proxy\'s to turn off', async () => {
    const report = await runFastCheck(genericTarget('/gzip-nginx'));
    const headers = report.results.find((result) => result.id === 'stream.headers')!;
    expect(headers).toMatchObject({ status: 'fail', layer: 'proxy' });
    expect(headers.fix).toMatch(/gzip_types/);
  });

  it('tail shows the decoded events and ends ok', async () => {
    const run = await runCli(['tail', '--url', server.url('/gzip')]);
    expect(run.stdout).toContain('chunk 1');
    expect(run.stdout).not.toMatch(/unknown field/);
    expect(run.code).toBe(0);
  });
});
