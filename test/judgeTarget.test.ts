import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JudgeReport } from '../src/judge/types.js';
import { startReferenceServer, type ReferenceServer } from '../src/server/referenceServer.js';
import { runCli } from './helpers/cli.js';
import { startStaticServer, type StaticServer } from './pages/staticServer.js';

const SCALE = '0.05';
let pages: StaticServer;
let backend: ReferenceServer;
let script: string;
beforeAll(async () => {
  pages = await startStaticServer();
  // A backend of its own, as a team's staging API would be: its generations outlast the run.
  backend = await startReferenceServer({ timings: { generationMs: 600_000 } });
  script = join(await mkdtemp(join(tmpdir(), 'judge-script-')), 'steps.mjs');
  await writeFile(script, "export default async ({ page }) => { await page.click('#generate'); };\n");
});
afterAll(async () => {
  await pages.close();
  await backend.close();
});

const verdicts = (report: JudgeReport) => Object.fromEntries(report.cases.map((result) => [result.name, result.verdict]));

describe.concurrent('judge --target and --page-script', { timeout: 120_000 }, () => {
  it('stands in front of a real backend with --target and grades the fixed page', async () => {
    const page = `${pages.origin}/frontend.html?api={api}&behaviour=fixed&scale=${SCALE}`;
    const run = await runCli(['judge', '--target', backend.baseUrl, '--page', page, '--case', 'completed,network-cutoff', '--time-scale', SCALE, '--json']);
    const report = JSON.parse(run.stdout) as JudgeReport;
    expect(verdicts(report)).toEqual({ completed: 'pass', 'network-cutoff': 'pass' });
    expect(run.code).toBe(0);
    // The token requests went through to the backend: its tokens, its shape.
    const tokens = report.cases[1]!.requests.filter((request) => request.kind === 'token');
    expect(tokens.every((request) => request.answer === 'forwarded' && request.status === 200)).toBe(true);
  });

  it('runs the page script that starts the generation, and without it says the client never came', async () => {
    const page = `${pages.origin}/frontend.html?api={api}&behaviour=no-max-retries&scale=${SCALE}&start=click`;
    const scripted = await runCli(['judge', '--page', page, '--page-script', script, '--case', 'immediate-close', '--time-scale', SCALE, '--json']);
    expect(verdicts(JSON.parse(scripted.stdout) as JudgeReport)).toEqual({ 'immediate-close': 'fail' });
    expect(scripted.code).toBe(1);
    const unscripted = await runCli(['judge', '--page', page, '--case', 'immediate-close', '--time-scale', SCALE, '--timeout', '8s']);
    expect(unscripted.code).toBe(3);
    expect(unscripted.stderr).toContain('--page-script FILE');
  });
});
