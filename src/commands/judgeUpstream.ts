import { systemClock, type Clock } from '../engine/clock.js';
import { EXIT_CODES, UsageError } from '../errors.js';
import { runJudge } from '../judge/runner.js';
import { startUpstreamArena, UPSTREAM_CASES, upstreamPolicy, type UpstreamKind } from '../judge/upstream.js';
import type { ProfileClient } from '../engine/target.js';
import { writeJudgeReports } from './judge.js';

export interface JudgeUpstreamOptions {
  readonly kind: UpstreamKind;
  readonly port: number;
  readonly timeoutMs: number;
  readonly timeScale: number;
  readonly client: ProfileClient;
  readonly json: boolean;
  readonly junitFile: string | undefined;
  readonly htmlFile: string | undefined;
  readonly color: boolean;
  readonly clock?: Clock;
}

/**
 * `sse-doctor judge --upstream openai|ollama`: stands as the upstream LLM API for a backend under
 * test and grades how it calls it (seed 004). Each case takes the backend's next call; a harness
 * can ask `GET /__judge/next` which case waits and how many users to send at once.
 */
export async function judgeUpstream(options: JudgeUpstreamOptions, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; signal: AbortSignal }): Promise<number> {
  const clock = options.clock ?? systemClock;
  const policy = upstreamPolicy(options.client, options.timeScale);
  const arena = await startUpstreamArena({ kind: options.kind, port: options.port, policy, clock }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE' || error.code === 'EACCES') throw new UsageError(`--port: cannot listen on port ${options.port} (${error.code}); pick another port or 0`, { cause: error });
    throw error;
  });
  try {
    io.stderr.write(`judge: upstream ${options.kind} API at ${arena.url}: configure the backend under test to call it\n`);
    const report = await runJudge(
      { arena, cases: UPSTREAM_CASES, policy, clock, deadline: clock.now() + options.timeoutMs, signal: io.signal },
      {
        onWaiting: (next, index, total) => io.stderr.write(`judge: case ${index + 1}/${total} ${next.name} (${next.title}): make ${next.users === 1 ? 'one call' : `${next.users} calls at once`} through the backend\n`),
        onGraded: (result) => io.stderr.write(`judge: ${result.name}: ${result.verdict}\n`),
      },
    );
    writeJudgeReports(report, options, io);
    if (report.cases.every((result) => result.verdict === 'not-run')) {
      io.stderr.write(`judge: the backend never called ${arena.url} within ${Math.round(options.timeoutMs / 1000)} s. Check that its upstream base URL points here and that something makes it call (a user request).\n`);
      return EXIT_CODES.unreachable;
    }
    return report.cases.every((result) => result.verdict === 'pass') ? EXIT_CODES.ok : EXIT_CODES.findings;
  } finally {
    await arena.close();
  }
}
