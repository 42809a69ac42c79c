import { InvalidArgumentError, Option, type Command } from 'commander';
import type { JudgeOptions } from '../commands/judge.js';
import type { JudgeUpstreamOptions } from '../commands/judgeUpstream.js';
import { UsageError } from '../errors.js';
import { JUDGE_CASE_NAMES, type JudgeCaseName } from '../judge/types.js';
import { normaliseUrl, resolveTargetOptions } from '../options/options.js';
import { duration, nonNegativeInt } from '../options/parse.js';
import type { CommandSpec } from './context.js';

interface JudgeFlags {
  port: number;
  case: JudgeCaseName[];
  target?: string;
  timeout: number;
  timeScale: number;
  page?: string;
  pageScript?: string;
  upstream?: 'openai' | 'ollama';
  json?: boolean;
  junit?: string;
  html?: string;
  profile?: string;
  config?: string;
}

/** Either grade a frontend (judge serves the API) or a backend calling an upstream LLM API (`--upstream`). */
export type JudgeCliOptions = ({ readonly mode: 'api' } & JudgeOptions) | ({ readonly mode: 'upstream' } & JudgeUpstreamOptions);

export const UPSTREAM_KINDS = ['openai', 'ollama'] as const;

export const judgeCommand: CommandSpec<JudgeCliOptions> = {
  define: (program: Command) =>
    program
      .command('judge')
      .description("grade a real client's retry behaviour: judge serves the API, puts the client in each situation and grades what it does")
      .addOption(new Option('--port <n>', 'port to listen on, on 127.0.0.1 (default: any free port)').argParser(port).default(0))
      .addOption(new Option('--case <names>', `cases to apply, comma-separated, or all: ${JUDGE_CASE_NAMES.join(', ')}`).argParser(caseList).default([...JUDGE_CASE_NAMES], 'all'))
      .option('--target <url>', 'stand in front of this backend (its base URL) instead of the built-in reference server')
      .addOption(new Option('--timeout <duration>', 'end the run after this long, graded or not').argParser(duration).default(600_000, '10m'))
      .addOption(new Option('--time-scale <x>', "scale the profile's client delays, e.g. 0.05 for a client configured 20 times faster").argParser(timeScale).default(1))
      .option('--page <url>', 'drive this page in headless Chromium, once per case; {api} in it becomes the judge URL')
      .option('--page-script <file>', 'a module whose default export ({ page, api, caseName }) starts a generation on the page')
      .addOption(new Option('--upstream <kind>', 'act as an upstream LLM API and grade the backend calling it (seed 004)').choices(UPSTREAM_KINDS).conflicts(['page', 'target', 'case']))
      .option('--json', 'the report as JSON on stdout')
      .option('--junit <file>', 'also write a JUnit XML report to <file>')
      .option('--html <file>', 'also write an HTML report with a timeline per case to <file>')
      .option('--profile <name>', 'contract profile whose client policy grades the client')
      .option('--config <file>', 'config file (default ./sse-doctor.config.json)'),
  options: ({ flags }, context) => {
    const judgeFlags = flags as unknown as JudgeFlags;
    const { profile } = resolveTargetOptions({ profile: judgeFlags.profile, config: judgeFlags.config }, context.env);
    const shared = {
      port: judgeFlags.port,
      timeoutMs: judgeFlags.timeout,
      timeScale: judgeFlags.timeScale,
      json: judgeFlags.json === true,
      junitFile: judgeFlags.junit,
      htmlFile: judgeFlags.html,
      color: context.colorStdout,
    };
    if (judgeFlags.upstream !== undefined) return Object.freeze({ mode: 'upstream', kind: judgeFlags.upstream, client: profile.client, ...shared });
    if (judgeFlags.pageScript !== undefined && judgeFlags.page === undefined) throw new UsageError('--page-script: needs --page (the page the script runs on)');
    return Object.freeze({
      mode: 'api',
      profile,
      cases: Object.freeze([...judgeFlags.case]),
      target: judgeFlags.target === undefined ? undefined : normaliseUrl(judgeFlags.target, '--target'),
      page: judgeFlags.page === undefined ? undefined : checkedPageUrl(judgeFlags.page),
      pageScript: judgeFlags.pageScript,
      ...shared,
    });
  },
  run: async (options, context) => {
    if (options.mode === 'upstream') {
      const { judgeUpstream } = await import('../commands/judgeUpstream.js');
      return judgeUpstream(options, context);
    }
    const { judge } = await import('../commands/judge.js');
    return judge(options, context);
  },
};

function port(raw: string): number {
  const value = nonNegativeInt(raw);
  if (value > 65_535) throw new InvalidArgumentError('expected a port (0-65535)');
  return value;
}

function timeScale(raw: string): number {
  const value = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0 || value > 1000) throw new InvalidArgumentError('expected a number above 0, e.g. 1 or 0.05');
  return value;
}

/** `all`, or names from JUDGE_CASE_NAMES, each once, in the order given. */
export function caseList(raw: string): JudgeCaseName[] {
  const names = raw.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0 || names.includes('all')) return [...JUDGE_CASE_NAMES];
  for (const name of names) {
    if (!(JUDGE_CASE_NAMES as readonly string[]).includes(name)) throw new InvalidArgumentError(`unknown case "${name}" (known: ${JUDGE_CASE_NAMES.join(', ')}, all)`);
  }
  return [...new Set(names)] as JudgeCaseName[];
}

/** The page URL as given: checked as a URL, its `{api}` placeholder left unencoded for the judge to fill in. */
function checkedPageUrl(raw: string): string {
  normaliseUrl(raw, '--page');
  return raw;
}
