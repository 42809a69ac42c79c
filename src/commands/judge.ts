import { writeFileSync } from 'node:fs';
import { systemClock, type Clock } from '../engine/clock.js';
import { EXIT_CODES, UsageError } from '../errors.js';
import { startJudgeArena, type JudgeArena } from '../judge/arena.js';
import { judgeCase } from '../judge/cases.js';
import { startPageClient } from '../judge/page.js';
import { judgePolicy } from '../judge/policy.js';
import { runJudge } from '../judge/runner.js';
import type { JudgeCaseName, JudgeReport } from '../judge/types.js';
import type { Profile } from '../engine/target.js';
import { reporterFor } from '../reporters/registry.js';
import { startReferenceServer, type ReferenceServer } from '../server/referenceServer.js';

export interface JudgeOptions {
  readonly profile: Profile;
  /** 0 = any free port. */
  readonly port: number;
  readonly cases: readonly JudgeCaseName[];
  /** A real backend to stand in front of; the reference server when undefined. */
  readonly target: string | undefined;
  readonly timeoutMs: number;
  readonly timeScale: number;
  /** A page to drive in headless Chromium; `{api}` in it becomes the judge's URL. */
  readonly page: string | undefined;
  readonly pageScript: string | undefined;
  readonly json: boolean;
  readonly junitFile: string | undefined;
  readonly htmlFile: string | undefined;
  readonly color: boolean;
  readonly clock?: Clock;
}

export interface JudgeIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly signal: AbortSignal;
}

/** A generation of the judge's own API never ends by itself: the cases decide what the client sees. */
const NEVER_ENDING_MS = 24 * 3600_000;

/**
 * `sse-doctor judge`: stands as the API for a real client, applies each case to the next
 * generation the client starts, grades what the client did against the profile's client
 * policy. Exit 0 all passed, 1 a case failed or never ran, 3 the client never came.
 */
export async function judge(options: JudgeOptions, io: JudgeIo): Promise<number> {
  const clock = options.clock ?? systemClock;
  const policy = judgePolicy(options.profile.client, options.timeScale);
  const reference = options.target === undefined ? await startOwnApi(options.timeScale) : undefined;
  let arena: JudgeArena | undefined;
  let page: Awaited<ReturnType<typeof startPageClient>> | undefined;
  try {
    arena = await startJudgeArena({ target: options.target ?? reference!.baseUrl, port: options.port, paths: options.profile.paths, policy, clock }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') throw new UsageError(`--port: cannot listen on port ${options.port} (${error.code}); pick another port or 0`, { cause: error });
      throw error;
    });
    io.stderr.write(`judge: point your client at ${arena.url}\n`);
    if (options.page !== undefined) page = await startPageClient(options.page, arena.url, options.pageScript);
    const report = await runJudge(
      { arena, cases: options.cases.map(judgeCase), policy, clock, deadline: clock.now() + options.timeoutMs, signal: io.signal, client: page },
      {
        onWaiting: (next, index, total) =>
          io.stderr.write(`judge: case ${index + 1}/${total} ${next.name} (${next.title}): ${page ? 'opening the page' : 'start a new generation in your client'}\n`),
        onGraded: (result) => io.stderr.write(`judge: ${result.name}: ${result.verdict}\n`),
      },
    );
    writeJudgeReports(report, options, io);
    if (report.interrupted) {
      io.stderr.write('judge: interrupted; the report covers what ran\n');
      return EXIT_CODES.interrupted;
    }
    if (report.cases.every((result) => result.verdict === 'not-run')) {
      io.stderr.write(neverCame(report, options));
      return EXIT_CODES.unreachable;
    }
    return report.cases.every((result) => result.verdict === 'pass') ? EXIT_CODES.ok : EXIT_CODES.findings;
  } finally {
    await page?.close();
    await arena?.close();
    await reference?.close();
  }
}

/** The reference server, its rate window scaled like the policy so a fast client is not limited by a minute-long window. */
function startOwnApi(timeScale: number): Promise<ReferenceServer> {
  return startReferenceServer({ timings: { generationMs: NEVER_ENDING_MS, tokenTtlMs: NEVER_ENDING_MS, rateWindowMs: Math.max(1000, Math.round(60_000 * timeScale)) } });
}

/** The report on stdout (table or JSON), and the --junit and --html files. */
export function writeJudgeReports(report: JudgeReport, options: Pick<JudgeOptions, 'json' | 'junitFile' | 'htmlFile' | 'color'>, io: Pick<JudgeIo, 'stdout'>): void {
  const write = (file: string | undefined, flag: string, render: () => string) => {
    if (file === undefined) return;
    try {
      writeFileSync(file, render());
    } catch (error) {
      throw new UsageError(`${flag}: cannot write ${file} (${(error as Error).message})`, { cause: error });
    }
  };
  write(options.junitFile, '--junit', () => reporterFor('judge', 'junit')(report));
  write(options.htmlFile, '--html', () => reporterFor('judge', 'html')(report));
  io.stdout.write(reporterFor('judge', options.json ? 'json' : 'pretty', options)(report));
}

function neverCame(report: JudgeReport, options: JudgeOptions): string {
  const seconds = Math.round(options.timeoutMs / 1000);
  const consoleErrors = report.cases.flatMap((result) => result.page?.consoleErrors ?? []).slice(0, 3);
  const checks =
    options.page !== undefined
      ? [
          `the page must call the API at ${report.url}: put {api} in --page where the page takes its API URL, or serve judge on the port the page already uses (--port)`,
          'the page must start a generation by itself, or give --page-script FILE with the steps that start one',
          ...consoleErrors.map((error) => `browser console: ${error}`),
        ]
      : [`set your client's API base URL to ${report.url}`, `start a generation in it (the judge binds each case to the next generation whose token or stream is requested)`, 'a browser client needs CORS: judge answers it for any origin'];
  return `judge: no client came to ${report.url} within ${seconds} s. Check:\n${checks.map((line) => `  - ${line}\n`).join('')}`;
}
