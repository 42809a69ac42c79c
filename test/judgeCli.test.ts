import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from './helpers/cli.js';

describe('judge on the command line', { timeout: 60_000 }, () => {
  it.each([
    [['judge', '--case', 'failed-generation,bogus'], /unknown case "bogus"/],
    [['judge', '--time-scale', '0'], /--time-scale/],
    [['judge', '--upstream', 'anthropic'], /--upstream/],
    [['judge', '--page-script', 'steps.mjs'], /--page-script: needs --page/],
    [['judge', '--upstream', 'openai', '--page', 'http://127.0.0.1:1/'], /cannot be used with/],
    [['judge', '--page', 'not a url'], /--page: "not a url" is not a valid URL/],
  ])('%j is a usage error on one line (exit 2)', async (args, message) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exits 3 and says what to check when no client comes', async () => {
    const run = await runCli(['judge', '--case', 'completed', '--timeout', '1s', '--junit', '/dev/null']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^judge: point your client at http:\/\/127\.0\.0\.1:\d+\/api$/m);
    expect(run.stderr).toContain('no client came');
    expect(run.stderr).toContain("set your client's API base URL to");
    expect(run.stdout).toContain('NOT RUN');
  });

  it('Ctrl-C while waiting for a client: exit 130, JSON "interrupted": true and not ok, a JUnit error, the HTML says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sse-doctor-judge-'));
    const [junit, html] = [join(dir, 'judge.xml'), join(dir, 'judge.html')];
    const { child, exited } = startCli(['judge', '--case', 'completed', '--timeout', '60s', '--json', '--junit', junit, '--html', html]);
    // Once it waits for a client, its Ctrl-C handler is in place.
    await new Promise<void>((resolve) => child.stderr.on('data', (chunk: Buffer) => chunk.toString().includes('point your client at') && resolve()));
    child.kill('SIGINT');
    const run = await exited;
    expect(run.code, run.stderr).toBe(130);
    expect(run.stderr).toContain('judge: interrupted; the report covers what ran');
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, interrupted: true });
    expect(readFileSync(junit, 'utf8')).toContain('<error message="interrupted (Ctrl-C)');
    expect(readFileSync(html, 'utf8')).toContain('interrupted (Ctrl-C): the report covers only what ran');
  });
});
