import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReferenceServer, type ReferenceServer } from '../src/server/referenceServer.js';
import { runCli } from './helpers/cli.js';
import { loadSchema, schemaErrors } from './helpers/jsonSchema.js';
import { startMisbehavingServer, writeChunks, type MisbehavingServer } from './helpers/misbehaving.js';

// Every JSON report the docs publish a schema for, produced by the built CLI against real servers.
let server: ReferenceServer;
let misbehaving: MisbehavingServer;
let target: string[];
beforeAll(async () => {
  server = await startReferenceServer({ port: 0, timings: { generationMs: 400, heartbeatMs: 50, streamMaxMs: 5000 } });
  misbehaving = await startMisbehavingServer({
    // Cut before any event: an event would reset the policy's count of retries in a row.
    '/cut': (_req, res) => {
      writeChunks(res, [': hello\n\n'], 1, false);
      setTimeout(() => res.socket?.destroy(), 20);
    },
  });
  target = ['--base-url', server.baseUrl, '--auth', 'schema-user'];
});
afterAll(async () => {
  await server.close();
  await misbehaving.close();
});

const conforms = (value: unknown, schema: string) => expect(schemaErrors(value, loadSchema(schema))).toEqual([]);
const ndjson = (text: string) => text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

describe('the JSON reports match docs/schemas', () => {
  it('tail --json: a created generation followed to its end, and a cut stream retried then given up', async () => {
    const created = await runCli(['tail', ...target, '--json']);
    expect(created.code).toBe(0);
    const cut = await runCli(['tail', '--url', misbehaving.url('/cut'), '--json', '--max-retries', '1', '--retry-delays', '10ms']);
    const items = [...ndjson(created.stdout), ...ndjson(cut.stdout)];
    expect([...new Set(items.map((item) => item.kind))]).toEqual(expect.arrayContaining(['generation', 'token', 'connect', 'open', 'event', 'comment', 'end', 'reconnect', 'stop', 'summary']));
    for (const item of items) conforms(item, 'tail');
  });

  it('token --json, for an issued token and a refused one', async () => {
    const created = ndjson((await runCli(['tail', ...target, '--json'])).stdout)[0]!;
    const refused = await runCli(['token', String(created.id), ...target, '--json']);
    expect(refused.code).toBe(1);
    conforms(JSON.parse(refused.stdout), 'token');
  });

  it('check --json and check --list --json', async () => {
    const run = await runCli(['check', ...target, '--only', 'token.,stream.headers,stream.trace-id', '--json']);
    const report = JSON.parse(run.stdout) as { results: unknown[] };
    expect(report.results.length).toBeGreaterThan(5);
    conforms(report, 'check');
    const list = await runCli(['check', '--list', '--json']);
    expect(list.code).toBe(0);
    conforms(JSON.parse(list.stdout), 'check-list');
  });

  it('replay --json: one report for one client, an array for several', async () => {
    const one = await runCli(['replay', 'failed-generation', ...target, '--client', 'robust', '--json']);
    conforms(JSON.parse(one.stdout), 'replay');
    const several = await runCli(['replay', 'failed-generation', ...target, '--json']);
    expect(Array.isArray(JSON.parse(several.stdout))).toBe(true);
    conforms(JSON.parse(several.stdout), 'replay');
  });

  it('load --json with a threshold', async () => {
    const run = await runCli(['load', ...target, '--clients', '3', '--duration', '700ms', '--threshold', 'rate429<0.5', '--json']);
    expect(run.code).toBe(0);
    conforms(JSON.parse(run.stdout), 'load');
  });
});

describe('the test validator can fail', () => {
  const schema = loadSchema('token');
  const valid = { generationId: 'g', status: 200, ok: true, latencyMs: 1, token: 't', expiresIn: 60, streamUrl: '/s', retryAfter: null, detail: null, meaning: 'm', next: 'n' };
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a missing key', { ...valid, next: undefined }, /missing "next"/],
    ['an extra key', { ...valid, surprise: 1 }, /unexpected key "surprise"/],
    ['a wrong type', { ...valid, status: '200' }, /\$\.status: expected integer/],
    ['null where not allowed', { ...valid, meaning: null }, /\$\.meaning: expected string/],
  ])('%s', (_name, value, message) => {
    const document = JSON.parse(JSON.stringify(value)) as unknown;
    expect(schemaErrors(valid, schema)).toEqual([]);
    expect(schemaErrors(document, schema).join('\n')).toMatch(message);
  });

  it('tells the kinds of tail items apart', () => {
    expect(schemaErrors({ kind: 'stop', reason: 'x', gaveUp: 'no', t: 1 }, loadSchema('tail')).join('\n')).toMatch(/matches none of oneOf/);
  });
});
