import type { AnalyzeReport } from '../../src/analyze/read.js';
import { runCli } from './cli.js';

/** `sse-doctor analyze --json <args>` run by the built CLI: its exit code and its report. */
export async function analyzeJson(...args: string[]): Promise<{ code: number; report: AnalyzeReport }> {
  const run = await runCli(['analyze', '--json', ...args]);
  return { code: run.code, report: JSON.parse(run.stdout) as AnalyzeReport };
}
