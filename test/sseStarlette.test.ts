import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { startSseStarlette, type PythonTarget } from './helpers/realTargets.js';

// Streams made by a real third-party SSE library: a plain typed stream ending with a `complete`
// event, and an OpenAI-style chat completion stream ending with `data: [DONE]`. Seen before: tail
// reconnected forever on the chat stream, load counted 100% errors and exited 0, and check failed
// stream.trace-id at error severity, a convention of our contract, not of SSE.
let app: PythonTarget;
beforeAll(async () => {
  app = await startSseStarlette({ pingSeconds: 1, intervalMs: 50 });
});
afterAll(() => app.close());

const STREAMS = [
  ['a plain typed stream', '/events?count=5', 'generic'],
  ['an OpenAI-style chat stream', '/v1/chat/completions?count=5', 'openai'],
] as const;

type CheckJson = { summary: { ok: boolean }; results: { id: string; status: string; severity: string; message: string }[] };

describe.concurrent('sse-starlette', () => {
  it.each(STREAMS)('tail --url follows %s to its end in one connection', async (_name, path, profile) => {
    const run = await runCli(['tail', '--url', `${app.baseUrl}${path}`, '--profile', profile, '--json']);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(summary).toMatchObject({ kind: 'summary', ok: true, ended: 'clean-terminal', reconnects: 0 });
    expect(run.code).toBe(0);
  }, 90_000);

  it.each(STREAMS)('check --url on %s: no false failure, the trace id only a warning', async (_name, path, profile) => {
    const run = await runCli(['check', '--url', `${app.baseUrl}${path}`, '--profile', profile, '--json']);
    const report = JSON.parse(run.stdout) as CheckJson;
    const failed = report.results.filter((result) => result.status === 'fail').map((result) => result.id);
    // The typed stream has ids but sse-starlette's app replays from the start on Last-Event-ID: a true finding.
    expect(failed).toEqual(path.startsWith('/events') ? ['stream.resume'] : []);
    expect(report.results.find((result) => result.id === 'stream.trace-id')).toMatchObject({ status: 'warn', severity: 'warn' });
    expect(report.results.find((result) => result.id === 'stream.terminal-event')).toMatchObject({ status: 'pass' });
  }, 90_000);

  it.each(STREAMS)('load --url on %s: every stream ends cleanly', async (_name, path, profile) => {
    const run = await runCli(['load', '--url', `${app.baseUrl}${path}`, '--profile', profile, '--clients', '3', '--max-requests', '9', '--duration', '30s', '--json']);
    const report = JSON.parse(run.stdout) as { metrics: { errors: Record<string, number>; streamsOpened: number }; verdict: string };
    expect(report.metrics.errors).toEqual({});
    expect(report.metrics.streamsOpened).toBe(9);
    expect(run.code).toBe(0);
  }, 90_000);
});
