import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { JUDGE_CASE_NAMES, type JudgeCaseName } from '../judge/types.js';
import { normaliseUrl, parseDurationMs, parseNonNegativeInteger, resolveTargetOptions } from '../options/options.js';
import type { SetExitCode } from './commands.js';
import type { CliContext } from './context.js';

interface JudgeFlags {
  port?: string;
  case: string;
  target?: string;
  timeout: string;
  timeScale: string;
  page?: string;
  pageScript?: string;
  upstream?: string;
  json?: boolean;
  junit?: string;
  html?: string;
  profile?: string;
  config?: string;
}

export const UPSTREAM_KINDS = ['openai', 'ollama'] as const;

export function registerJudge(program: Command, context: CliContext, setExitCode: SetExitCode): void {
  program
    .command('judge')
    .description("grade a real client's retry behaviour: judge serves the API, puts the client in each situation and grades what it does")
    .option('--port <n>', 'port to listen on, on 127.0.0.1 (default: any free port)')
    .option('--case <names>', `cases to apply, comma-separated, or all: ${JUDGE_CASE_NAMES.join(', ')}`, 'all')
    .option('--target <url>', 'stand in front of this backend (its base URL) instead of the built-in reference server')
    .option('--timeout <duration>', 'end the run after this long, graded or not', '10m')
    .option('--time-scale <x>', "scale the profile's client delays, e.g. 0.05 for a client configured 20 times faster", '1')
    .option('--page <url>', 'drive this page in headless Chromium, once per case; {api} in it becomes the judge URL')
    .option('--page-script <file>', 'a module whose default export ({ page, api, caseName }) starts a generation on the page')
    .option('--upstream <kind>', `act as an upstream LLM API (${UPSTREAM_KINDS.join(', ')}) and grade the backend calling it`)
    .option('--json', 'the report as JSON on stdout')
    .option('--junit <file>', 'also write a JUnit XML report to <file>')
    .option('--html <file>', 'also write an HTML report with a timeline per case to <file>')
    .option('--profile <name>', 'contract profile whose client policy grades the client')
    .option('--config <file>', 'config file (default ./sse-doctor.config.json)')
    .action(async (flags: JudgeFlags) => {
      const { profile } = resolveTargetOptions({ profile: flags.profile, config: flags.config }, context.env);
      const port = flags.port === undefined ? 0 : parseNonNegativeInteger(flags.port, '--port');
      if (port > 65_535) throw new UsageError(`--port: ${port} is not a port (0-65535)`);
      const timeScale = Number(flags.timeScale);
      if (!Number.isFinite(timeScale) || timeScale <= 0 || timeScale > 1000) throw new UsageError(`--time-scale: "${flags.timeScale}" is not a number above 0 (e.g. 1, 0.1)`);
      const timeoutMs = parseDurationMs(flags.timeout, '--timeout');
      const report = { json: flags.json === true, junitFile: flags.junit, htmlFile: flags.html, color: context.colorStdout };
      const io = { stdout: context.stdout, stderr: context.stderr, signal: context.signal };
      if (flags.upstream !== undefined) {
        if (!(UPSTREAM_KINDS as readonly string[]).includes(flags.upstream)) throw new UsageError(`--upstream: unknown kind "${flags.upstream}" (expected ${UPSTREAM_KINDS.join(' or ')})`);
        if (flags.page !== undefined || flags.target !== undefined) throw new UsageError('--upstream: judge acts as the upstream API itself; --page and --target do not apply');
        const { judgeUpstream } = await import('../commands/judgeUpstream.js');
        setExitCode(await judgeUpstream(Object.freeze({ kind: flags.upstream as (typeof UPSTREAM_KINDS)[number], port, timeoutMs, timeScale, client: profile.client, ...report }), io));
        return;
      }
      if (flags.pageScript !== undefined && flags.page === undefined) throw new UsageError('--page-script: needs --page (the page the script runs on)');
      const { judge } = await import('../commands/judge.js');
      setExitCode(
        await judge(
          Object.freeze({
            profile,
            port,
            cases: Object.freeze(parseCases(flags.case)),
            target: flags.target === undefined ? undefined : normaliseUrl(flags.target, '--target'),
            timeoutMs,
            timeScale,
            page: flags.page === undefined ? undefined : checkedPageUrl(flags.page),
            pageScript: flags.pageScript,
            ...report,
          }),
          io,
        ),
      );
    });
}

/** `all`, or names from JUDGE_CASE_NAMES in the order given, each once. */
export function parseCases(raw: string): JudgeCaseName[] {
  const names = raw.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0 || names.includes('all')) return [...JUDGE_CASE_NAMES];
  for (const name of names) {
    if (!(JUDGE_CASE_NAMES as readonly string[]).includes(name)) throw new UsageError(`--case: unknown case "${name}" (known: ${JUDGE_CASE_NAMES.join(', ')}, all)`);
  }
  return [...new Set(names)] as JudgeCaseName[];
}

/** The page URL as given: checked as a URL, but its `{api}` placeholder left unencoded for the judge to fill in. */
function checkedPageUrl(raw: string): string {
  normaliseUrl(raw, '--page');
  return raw;
}
