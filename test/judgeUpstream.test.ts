import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JudgeReport } from '../src/judge/types.js';
import { startCli } from './helpers/cli.js';

const CALLERS = join(import.meta.dirname, 'targets', 'upstream_callers');
/** The callers' own delays run 4 times faster than seed 004's (1 s is 250 ms: an immediate retry on a loaded machine can take 100 ms); the judge grades at the same scale. */
const SCALE = '0.25';

/** Runs `judge --upstream KIND` with `caller` calling it; resolves with the judge's report once every case is graded. */
async function judgeCaller(kind: 'openai' | 'ollama', caller: (url: string) => [string, string[]]): Promise<{ code: number; report: JudgeReport }> {
  const judge = startCli(['judge', '--upstream', kind, '--time-scale', SCALE, '--timeout', '2m', '--json']);
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    judge.child.stderr.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /API at (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (match) resolve(match[1]!);
    });
    judge.child.on('close', () => reject(new Error(`judge ended before it listened: ${seen}`)));
  });
  const [command, args] = caller(url);
  const callerProcess = spawn(command, args, { stdio: 'ignore' });
  const run = await judge.exited;
  // The caller stops by itself once the judge is gone; this is for a judge that failed early.
  callerProcess.kill();
  if (!run.stdout.startsWith('{')) throw new Error(`judge exited ${run.code} without a report: ${run.stderr}`);
  return { code: run.code, report: JSON.parse(run.stdout) as JudgeReport };
}

const verdicts = (report: JudgeReport) => Object.fromEntries(report.cases.map((result) => [result.name, result.verdict]));
const why = (report: JudgeReport) =>
  report.cases.flatMap((result) => result.checks.filter((check) => !check.pass).map((check) => `${result.name}: ${check.name}: ${check.message}`)).join('\n');

describe.concurrent('judge --upstream grades a backend calling an LLM API (seed 004)', { timeout: 180_000 }, () => {
  it("passes a Python caller with seed 004's rate limiter (OpenAI streaming)", async () => {
    const { code, report } = await judgeCaller('openai', (url) => ['python3', [join(CALLERS, 'seed004_caller.py'), url, '--api', 'openai', '--scale', SCALE]]);
    expect(report.cases.every((result) => result.verdict === 'pass'), why(report)).toBe(true);
    expect(code).toBe(0);
    const backoff = report.cases.find((result) => result.name === 'rate-limit-backoff')!;
    expect(backoff.figures!.retries).toBe(5);
    expect(backoff.figures!.delays.map((delay) => delay.expectedMs)).toEqual([250, 500, 1000, 2000, 4000]);
  });

  it("passes the same caller against Ollama's /api/chat", async () => {
    const { code, report } = await judgeCaller('ollama', (url) => ['python3', [join(CALLERS, 'seed004_caller.py'), url, '--api', 'ollama', '--scale', SCALE]]);
    expect(report.cases.every((result) => result.verdict === 'pass'), why(report)).toBe(true);
    expect(code).toBe(0);
  });

  it('fails a Node caller without backoff, its delays listed', async () => {
    const { code, report } = await judgeCaller('openai', (url) => [process.execPath, [join(CALLERS, 'no_backoff_caller.mjs'), url]]);
    expect(code).toBe(1);
    expect(verdicts(report), why(report)).toEqual({
      'rate-limit-backoff': 'fail',
      'retry-after': 'fail',
      'server-error': 'fail',
      'bad-request': 'pass',
      'slow-first-token': 'pass',
      'mid-stream-cut': 'fail',
      'many-users': 'fail',
    });
    const backoff = report.cases.find((result) => result.name === 'rate-limit-backoff')!;
    expect(backoff.figures!.delays).toHaveLength(5);
    // Retries at once: together the five waits are a fraction of the schedule's 7.75 s (an immediate retry took 0.27 s once on a loaded machine).
    const waited = backoff.figures!.delays.reduce((sum, delay) => sum + delay.ms, 0);
    expect(waited).toBeLessThan(backoff.figures!.delays.reduce((sum, delay) => sum + delay.expectedMs!, 0) / 4);
    expect(backoff.checks.filter((check) => !check.pass).map((check) => check.name)).toContain('retry 5 waits 4.00 s');
  });
});
