import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher } from '../src/engine/http.js';
import { createScenarioContext, type ScenarioContextHandle } from '../src/replay/context.js';
import { DEFAULT_REPLAY_SETTINGS } from '../src/replay/scenario.js';
import { resolveTargetOptions } from '../src/options/options.js';
import { virtualClock } from './helpers/clocks.js';
import { startMisbehavingServer, type MisbehavingServer } from './helpers/misbehaving.js';

/** A token endpoint whose stream_url names the target's own origin, absolutely, and counts its requests. */
let server: MisbehavingServer;
let tokenRequests = 0;
let handle: ScenarioContextHandle;
const dispatcher = createDispatcher({ connectTimeoutMs: 2000, insecure: false });
beforeAll(async () => {
  server = await startMisbehavingServer({
    '/api/generations/generate/g1/stream-token': (_req, res) => {
      tokenRequests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sse_token: `tok${tokenRequests}`, stream_url: server.url('/api/generations/generate/g1/stream') }));
    },
  });
  const target = resolveTargetOptions({ baseUrl: server.url('/api'), auth: 'alice' }, {}, tmpdir());
  handle = createScenarioContext(target, DEFAULT_REPLAY_SETTINGS, { dispatcher, clock: virtualClock(), signal: new AbortController().signal });
});
afterAll(async () => {
  await handle.close();
  await dispatcher.close();
  await server.close();
});

describe("a scenario's token sources wrap the API, by composition", () => {
  it('through the fault proxy, an absolute stream_url naming the target is pointed at the proxy', async () => {
    const proxy = await handle.context.startProxy({ reset: false, latencyMs: 0, bufferMs: 0 });
    const answer = await handle.context.apiThrough(proxy).requestToken('g1');
    expect(answer.ok && new URL(answer.token.streamUrl).origin).toBe(new URL(proxy.url).origin);
    expect(answer.ok && new URL(answer.token.streamUrl).pathname).toBe('/api/generations/generate/g1/stream');
  });

  it('a held token answers the first request for its generation, once; the next ones ask the API', async () => {
    const before = tokenRequests;
    const tokens = await handle.context.holdToken('g1');
    expect(tokenRequests).toBe(before + 1);
    const first = await tokens.requestToken('g1');
    expect(tokenRequests).toBe(before + 1);
    const second = await tokens.requestToken('g1');
    expect(tokenRequests).toBe(before + 2);
    expect([first.ok && first.token.token, second.ok && second.token.token]).toEqual([`tok${before + 1}`, `tok${before + 2}`]);
  });
});
