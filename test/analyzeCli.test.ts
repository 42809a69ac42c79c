import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AnalyzeOptions } from '../src/commands/analyze.js';
import type { LoadOptions } from '../src/commands/load.js';
import type { ReplayOptions } from '../src/commands/replay.js';
import { MeasuredClient, type MeasuredClientSpec } from '../src/engine/clientPolicy.js';
import { parseArgv } from './helpers/argv.js';

const dir = mkdtempSync(join(tmpdir(), 'sse-doctor-analyze-cli-'));
const spec: MeasuredClientSpec = {
  kind: 'sse-doctor/client-model',
  version: 1,
  source: 'incident.har',
  ends: { 'stream-closed': { retries: true, delayMs: 10, intervalMs: 200 }, 'rate-limited': { retries: true, delayMs: 5, intervalMs: 50 }, terminal: { retries: false, delayMs: 0, intervalMs: undefined } },
  maxRetries: undefined,
  resumes: false,
  refreshesToken: true,
};
const modelFile = join(dir, 'model.json');
writeFileSync(modelFile, JSON.stringify(spec));

describe('analyze and --client-model on the command line', () => {
  it('analyze: files, format, thresholds and outputs', async () => {
    const parsed = (await parseArgv(['analyze', 'a.har', '-', '--format', 'nginx', '--storm-min', '3', '--at-once', '250ms', '--json', '--client-model', 'm.json'])) as { options: AnalyzeOptions };
    expect(parsed.options).toMatchObject({ files: ['a.har', '-'], format: 'nginx', json: true, clientModelFile: 'm.json', settings: { stormMinRequests: 3, atOnceMs: 250, shortStreamMs: 1000 } });
    expect(await parseArgv(['analyze', 'a.log', '--format', 'syslog'])).toMatchObject({ error: expect.stringContaining('syslog') });
    expect(await parseArgv(['analyze'])).toMatchObject({ error: expect.stringContaining('file') });
  });

  it('load and replay take a measured client model; a malformed one is a usage error naming the flag', async () => {
    const load = (await parseArgv(['load', '--client-model', modelFile])) as { options: LoadOptions };
    expect(load.options.plan.client).toEqual(spec);
    const replay = (await parseArgv(['replay', 'retry-storm', '--client-model', modelFile])) as { options: ReplayOptions };
    expect(replay.options.settings.clients).toEqual([spec]);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...spec, ends: { sometimes: { retries: true, delayMs: 1 } } }));
    expect(await parseArgv(['load', '--client-model', bad])).toMatchObject({ error: expect.stringMatching(/^--client-model: .*unknown end "sometimes"/) });
    expect(await parseArgv(['load', '--client', 'naive', '--client-model', modelFile])).toMatchObject({ error: expect.stringContaining('cannot be used with') });
  });

  it('a measured client retries as recorded, paced start to start, and stops where the recorded one stopped', () => {
    let now = 0;
    const model = new MeasuredClient(spec, { now: () => now });
    const closed = { kind: 'stream', end: { kind: 'clean-no-terminal' }, sawTerminal: false, newEvents: 0, serverRetryMs: undefined } as const;
    expect(model.decide(closed)).toMatchObject({ action: 'retry', delayMs: 10, freshToken: true, resume: false });
    // The next attempt started at 10 ms; it ends at 150 ms: 200 ms start to start leaves 60 ms.
    now = 150;
    expect(model.decide(closed)).toMatchObject({ action: 'retry', delayMs: 60 });
    now = 400;
    expect(model.decide({ kind: 'token-refused', status: 429, retryAfterSeconds: 60 })).toMatchObject({ action: 'retry', delayMs: 0 });
    expect(model.decide({ ...closed, sawTerminal: true })).toMatchObject({ action: 'stop' });
  });

  it('a measured client makes up attempts that ran late, and starts a new schedule after one that ran long', () => {
    let now = 0;
    const model = new MeasuredClient(spec, { now: () => now });
    const limited = { kind: 'token-refused', status: 429, retryAfterSeconds: undefined } as const;
    // Scheduled for 5 ms, then every 50 ms: 55, 105, 155.
    expect(model.decide(limited)).toMatchObject({ delayMs: 5 });
    now = 130; // a stall: the attempt due at 55 ended at 130
    expect(model.decide(limited)).toMatchObject({ delayMs: 0 });
    now = 140;
    expect(model.decide(limited)).toMatchObject({ delayMs: 0 });
    now = 145;
    expect(model.decide(limited)).toMatchObject({ delayMs: 10 });
    // More than a second behind (a stream that ran): the recorded delay, and a schedule from now.
    now = 1300;
    expect(model.decide(limited)).toMatchObject({ delayMs: 5 });
    now = 1320;
    expect(model.decide(limited)).toMatchObject({ delayMs: 35 });
  });
});
