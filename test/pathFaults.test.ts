import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../src/check/types.js';
import { resolveTargetOptions } from '../src/options/options.js';
import { startReferenceServer, type ReferenceServer } from '../src/server/referenceServer.js';
import { FAST_LIMITS, FAST_TIMINGS, fastTarget, failures, idsWith, runFastCheck } from './helpers/checkTarget.js';
import { sseHeaders, startMisbehavingServer, type MisbehavingServer } from './helpers/misbehaving.js';
import { startPathProxy, type PathProxy } from './helpers/pathProxies.js';

const result = (report: CheckReport, id: string) => report.results.find((item) => item.id === id)!;

describe('a proxy that holds the whole response back, headers included', () => {
  // Seen behind nginx with proxy_buffering on over HTTP/1.0: headersMs=7600, and yet
  // stream.no-buffering and stream.connected-first passed, because every event arrived after the
  // headers and read as replayed history.
  let server: ReferenceServer;
  let proxy: PathProxy;
  beforeAll(async () => {
    server = await startReferenceServer({ port: 0, faults: [], timings: { ...FAST_TIMINGS, generationMs: 2500 } });
    proxy = await startPathProxy(server.baseUrl, { kind: 'hold-all' });
  });
  afterAll(async () => {
    await proxy.close();
    await server.close();
  });

  it('fails stream.no-buffering and stream.connected-first, naming the proxy', async () => {
    const report = await runFastCheck(fastTarget(proxy.via(server.baseUrl)));
    expect(idsWith(report, 'fail').sort()).toEqual(['stream.connected-first', 'stream.no-buffering']);
    expect(result(report, 'stream.connected-first').message).toMatch(/held back together/);
    expect(result(report, 'stream.no-buffering').message).toMatch(/the headers were held back too/);
    for (const id of ['stream.connected-first', 'stream.no-buffering']) expect(result(report, id).layer).toBe('proxy');
  });
});

/**
 * A generic stream that pauses longer than the proxy's idle timeout but within its own heartbeat
 * interval: two events, a 1.6 s pause (a heartbeat at its end), then the rest. It resumes after
 * Last-Event-ID.
 */
function thinkingStream(req: IncomingMessage, res: ServerResponse): void {
  const events = [0, 100, 1700, 1800].map((at, index) => ({ at, text: `id: ${index + 1}\n${index === 3 ? 'event: complete\n' : ''}data: {"n":${index + 1}}\n\n` }));
  const after = Number(req.headers['last-event-id'] ?? 0);
  res.writeHead(200, sseHeaders);
  res.flushHeaders();
  const timers = events.slice(after).map(({ at, text }, index, all) =>
    setTimeout(() => {
      res.write(at === 1700 ? `: heartbeat\n\n${text}` : text);
      if (index === all.length - 1) res.end();
    }, at - (all[0]?.at ?? 0)),
  );
  res.on('close', () => timers.forEach(clearTimeout));
}

describe('a proxy idle timeout shorter than the pauses of the stream', () => {
  // Seen with proxy_read_timeout 3s and a 4.5 s heartbeat: every stream cut after exactly 3 s of
  // silence, check blamed the backend, and stream.heartbeat passed at 3004 ms.
  let backend: MisbehavingServer;
  let proxy: PathProxy;
  beforeAll(async () => {
    backend = await startMisbehavingServer({ '/thinking': thinkingStream });
    proxy = await startPathProxy(backend.url('/'), { kind: 'idle-timeout', ms: 1200 });
  });
  afterAll(async () => {
    await proxy.close();
    await backend.close();
  });

  it('diagnoses an idle timeout in the path, with the heartbeat fix, and does not blame the backend', async () => {
    const resolved = resolveTargetOptions({ url: proxy.via(backend.url('/thinking')) }, {}, tmpdir());
    const report = await runFastCheck({ ...resolved, profile: { ...resolved.profile, limits: { ...resolved.profile.limits, ...FAST_LIMITS, heartbeatSeconds: 2 } } });
    expect(Object.keys(failures(report)).sort()).toEqual(['stream.clean-close', 'stream.heartbeat', 'stream.terminal-event']);
    const heartbeat = result(report, 'stream.heartbeat');
    expect(heartbeat.message).toMatch(/cut after 1\.\d+ s of silence, and a second stream after 1\.\d+ s: an idle timeout of about 1\.\d+ s/);
    expect(heartbeat.fix).toMatch(/heartbeat .* at least every 0\.6\d* s, half that timeout, or raise the idle timeout/);
    for (const id of ['stream.clean-close', 'stream.heartbeat', 'stream.terminal-event']) expect(result(report, id).layer).toBe('proxy');
    expect(result(report, 'stream.clean-close').message).not.toMatch(/destroying the socket/);
  });
});
