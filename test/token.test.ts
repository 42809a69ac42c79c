import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { token } from '../src/commands/token.js';
import { systemClock } from '../src/engine/clock.js';
import { GenerationsApi } from '../src/engine/generationsApi.js';
import { waitForStatus } from '../src/engine/statusWait.js';
import { resolveTargetOptions } from '../src/options/options.js';
import type { TargetOptions } from '../src/engine/target.js';
import { startReferenceServer, type ReferenceServer } from '../src/server/referenceServer.js';
import { runCli } from './helpers/cli.js';

let server: ReferenceServer;
let target: TargetOptions;
beforeAll(async () => {
  server = await startReferenceServer({ port: 0, timings: { generationMs: 300, rateLimit: 3, rateWindowMs: 30_000 } });
  target = resolveTargetOptions({ baseUrl: server.baseUrl, auth: 'alice' }, {}, import.meta.dirname);
});
afterAll(() => server.close());

async function tokenFor(id: string, json = true) {
  let out = '';
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  const code = await token({ target, generationId: id, json, color: false }, { stdout });
  return { code, out, report: json ? (JSON.parse(out) as Record<string, unknown>) : undefined };
}

async function createGeneration(prompt: string): Promise<string> {
  const created = await new GenerationsApi(target).create(prompt);
  if (!created.ok) throw new Error('could not create a generation');
  return created.id;
}

async function failedGeneration(): Promise<string> {
  const id = await createGeneration('this one will fail on purpose');
  const wait = await waitForStatus(new GenerationsApi(target), id, ['failed'], { clock: systemClock, deadline: systemClock.now() + 10_000 });
  if (!wait.reached) throw new Error('the failing generation never failed');
  return id;
}

describe('sse-doctor token', () => {
  it('prints the whole token it was asked for, expires_in, stream_url and latency', async () => {
    const id = await createGeneration('a prompt long enough to pass');
    const run = await tokenFor(id, false);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^200 token issued in [\d.]+ ms\n {2}token {7}[\w-]{20,}\n {2}expires_in {2}60 s\n {2}stream_url {2}http:\/\/127\.0\.0\.1:\d+\/api\/generations\/generate\/[\w-]+\/stream\?token=/);
  });

  it('explains a 400 for a failed generation: do not retry', async () => {
    const id = await failedGeneration();
    const { code, report } = await tokenFor(id);
    expect(code).toBe(1);
    expect(report).toMatchObject({ status: 400, ok: false, token: null, detail: expect.stringContaining('Generation has failed'), next: expect.stringMatching(/^do not retry/) });
  });

  it('explains a 404 and a 429 with its Retry-After', async () => {
    expect((await tokenFor('no-such-generation')).report).toMatchObject({ status: 404, meaning: expect.stringContaining('no such generation') });
    const id = await createGeneration('a prompt long enough to pass');
    for (let i = 0; i < 3; i++) await tokenFor(id);
    const limited = await tokenFor(id);
    expect(limited.report).toMatchObject({ status: 429, retryAfter: expect.any(Number), next: expect.stringMatching(/^wait \d+ s \(Retry-After\)/) });
  });

  it('an unreachable server exits 3 with one line, naming the URL', async () => {
    const dead = await startReferenceServer({ port: 0 });
    const url = dead.baseUrl;
    await dead.close();
    const run = await runCli(['token', 'some-id', '--base-url', url, '--auth', 'alice']);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(`${url}/generations/generate/some-id/stream-token`);
  });
});
