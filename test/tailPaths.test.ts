import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReferenceServer, type ReferenceServer } from '../src/server/referenceServer.js';
import { FAST_TIMINGS } from './helpers/checkTarget.js';
import { runCli } from './helpers/cli.js';
import { sseHeaders, startMisbehavingServer, writeChunks, type MisbehavingServer } from './helpers/misbehaving.js';
import { startPathProxy, type PathProxy } from './helpers/pathProxies.js';

type Item = Record<string, any>;
const items = (stdout: string): Item[] => stdout.trim().split('\n').map((line) => JSON.parse(line) as Item);
const ofKind = (all: Item[], kind: string) => all.filter((item) => item.kind === kind);
/** Fast reconnects for the tests: the policy's schedule in tens of ms. */
const FAST_RETRIES = ['--retry-delays', '50ms', '--max-retries', '3'];

const chunk = (text: string) => `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`;

/** One event a connection, after Last-Event-ID, then a pause longer than the proxy's idle timeout; id 4 ends it. */
function pausing(req: IncomingMessage, res: ServerResponse): void {
  const id = Number(req.headers['last-event-id'] ?? 0) + 1;
  res.writeHead(200, sseHeaders);
  res.write(id >= 4 ? `id: ${id}\nevent: complete\ndata: {"n":${id}}\n\n` : `id: ${id}\ndata: {"n":${id}}\n\n`);
  if (id >= 4) return void res.end();
  const timer = setTimeout(() => res.end(), 1600);
  res.on('close', () => clearTimeout(timer));
}

/** A connected event on every connection (progress 0.0, as in seed 000), progress, and a cut on the first. */
function resumingWithConnected(req: IncomingMessage, res: ServerResponse): void {
  const resumed = req.headers['last-event-id'] !== undefined;
  const event = (id: number, progress: number, stage: string, status = 'processing') => `id: ${id}\ndata: ${JSON.stringify({ status, stage, progress, message: stage, timestamp: Date.now() / 1000 })}\n\n`;
  if (!resumed) {
    writeChunks(res, [event(1, 0, 'connected'), event(2, 0.3, 'generating')], 10, false);
    setTimeout(() => res.socket?.destroy(), 60);
    return;
  }
  writeChunks(res, [event(3, 0, 'connected'), event(4, 0.6, 'generating'), event(5, 1, 'complete', 'completed')], 10);
}

let server: MisbehavingServer;
let idleProxy: PathProxy;
beforeAll(async () => {
  server = await startMisbehavingServer({
    '/chat': (_req, res) => writeChunks(res, [chunk('Hel'), chunk('lo'), 'data: [DONE]\n\n'], 10),
    // The same stream from its start on every connection, with no end event: each connection delivers events.
    '/replaying': (_req, res) => writeChunks(res, ['retry: 20\ndata: {"n":1}\n\n', 'retry: 20\ndata: {"n":2}\n\n', 'retry: 20\ndata: {"n":3}\n\n'], 5),
    '/pausing': pausing,
    '/resuming': resumingWithConnected,
  });
  idleProxy = await startPathProxy(server.url('/'), { kind: 'idle-timeout', ms: 1200 });
});
afterAll(async () => {
  await idleProxy.close();
  await server.close();
});

describe.concurrent('tail on LLM-style and generic streams', () => {
  it('ends on data: [DONE] with one connection, and shows the chunks\' content', async () => {
    const run = await runCli(['tail', '--url', server.url('/chat')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('"content":"Hel"');
    expect(run.stdout).toMatch(/reconnects\s*│\s*0/);
  });

  it('gives up on a stream replayed from its start on every connection, and says retry: once per connection', async () => {
    const run = await runCli(['tail', '--url', server.url('/replaying'), '--json', ...FAST_RETRIES]);
    const all = items(run.stdout);
    expect(run.code).toBe(1);
    expect(all.at(-1)).toMatchObject({ kind: 'summary', reconnects: 3, stopReason: expect.stringMatching(/gave up after 3 retries/) });
    expect(ofKind(all, 'diagnostic').filter((item) => item.code === 'retry')).toHaveLength(4);
  });

  it('gives no progress warning across a reconnect\'s connected event', async () => {
    const run = await runCli(['tail', '--url', server.url('/resuming'), '--profile', 'generic', '--json', ...FAST_RETRIES]);
    const all = items(run.stdout);
    expect(ofKind(all, 'connect')).toHaveLength(2);
    expect(ofKind(all, 'diagnostic').filter((item) => item.code === 'progress-backwards')).toEqual([]);
    expect(run.code).toBe(0);
  });

  it('diagnoses an idle timeout in the path when two connections are cut after the same silence', async () => {
    const run = await runCli(['tail', '--url', idleProxy.via(server.url('/pausing')), '--json', ...FAST_RETRIES]);
    const all = items(run.stdout);
    const idle = ofKind(all, 'diagnostic').find((item) => item.code === 'idle-timeout');
    expect(idle?.message).toMatch(/idle timeout of about 1\.\d s somewhere in the path; send a heartbeat at least every 0\.6 s/);
    expect(all.at(-1)!.idleTimeoutMs).toBeGreaterThan(1100);
  });
});

describe('tail behind a proxy that holds the whole response back', () => {
  // Seen behind nginx buffering over HTTP/1.0: "longest gap 1ms", verdict ok, with headersMs=7600.
  let reference: ReferenceServer;
  let proxy: PathProxy;
  beforeAll(async () => {
    reference = await startReferenceServer({ port: 0, faults: [], timings: { ...FAST_TIMINGS, generationMs: 2500 } });
    proxy = await startPathProxy(reference.baseUrl, { kind: 'hold-all' });
  });
  afterAll(async () => {
    await proxy.close();
    await reference.close();
  });

  it('says the events were held back, in a diagnostic, the summary and the verdict', async () => {
    const run = await runCli(['tail', '--base-url', proxy.via(reference.baseUrl), '--auth', 'alice', '--json']);
    const all = items(run.stdout);
    expect(ofKind(all, 'diagnostic').map((item) => item.code)).toContain('held-back');
    expect(all.at(-1)).toMatchObject({ kind: 'summary', ok: false, buffered: true });
    expect(all.at(-1)!.heldBackMs).toBeGreaterThan(1500);
    expect(all.at(-1)!.headersMs).toBeGreaterThan(1500);
    expect(run.code).toBe(1);
  });
});
