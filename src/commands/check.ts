import type { SecretSink } from '../engine/secrets.js';
import ora from 'ora';
import { runCheck, type CheckOptions } from '../check/runner.js';
import { EXIT_CODES } from '../errors.js';
import { RULES } from '../check/rules/index.js';
import { reporterFor, type CheckOutput } from '../reporters/registry.js';

/** The runner's options (less the clock, signal and rule set it gets from here) and how to report. */
export interface CheckCommandOptions extends Omit<CheckOptions, 'clock' | 'signal' | 'rules'> {
  /** `--list`: print the rules with their explanations and run nothing. */
  readonly list: boolean;
  readonly json: boolean;
  /** Where to write the JUnit XML report, if anywhere. */
  readonly junitFile: string | undefined;
  /** Emit GitHub Actions annotations (GITHUB_ACTIONS=true). */
  readonly githubActions: boolean;
  readonly color: boolean;
}

export interface CheckCommandIo {
  readonly secrets?: SecretSink;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Progress (a spinner) only for a person at a terminal. */
  readonly stderrIsTty: boolean;
  readonly signal?: AbortSignal;
  /** Writes a report file through the run's redaction. */
  writeFile(path: string, text: string): void;
}

/**
 * `sse-doctor check`: run the contract rules against the target and explain every failure.
 * Exit 0 when no error rule failed (with --strict: no warning either), 1 otherwise.
 */
export async function check(options: CheckCommandOptions, io: CheckCommandIo): Promise<number> {
  if (options.list) {
    io.stdout.write(reporterFor('check-rules', options.json ? 'json' : 'pretty', options)(RULES));
    return EXIT_CODES.ok;
  }
  // Progress only on a terminal: a pipe or a CI log gets the report and nothing else.
  const spinner = ora({ stream: io.stderr, discardStdin: false, isSilent: !io.stderrIsTty });
  const report = await runCheck(
    {
      target: options.target,
      only: options.only,
      skip: options.skip,
      slow: options.slow,
      strict: options.strict,
      completedId: options.completedId,
      failedId: options.failedId,
      signal: io.signal,
      secrets: io.secrets,
    },
    {
      onPlan: (rules) => spinner.start(`check: running ${rules.length} rules`),
      onRuleEnd: (_result, pending) => {
        const waiting = pending.slice(0, 3).map((rule) => rule.id).join(', ');
        spinner.text = `check: ${pending.length} rules left${waiting ? ` (${waiting}${pending.length > 3 ? ', …' : ''})` : ''}`;
      },
    },
  ).finally(() => spinner.stop());
  if (io.signal?.aborted) io.stderr.write('check: interrupted; the report covers what ran\n');

  const { paths, usesTokens } = options.target.profile;
  const output: CheckOutput = {
    report,
    endpoints: { token: `POST ${paths.token}`, stream: usesTokens ? `GET ${paths.stream}?token=…` : `GET ${report.summary.target}` },
  };
  if (options.junitFile !== undefined) io.writeFile(options.junitFile, reporterFor('check', 'junit')(output));
  // Workflow commands are read from the job's output; with --json they go to stderr so stdout stays JSON.
  if (options.githubActions) (options.json ? io.stderr : io.stdout).write(reporterFor('check', 'github')(output));
  io.stdout.write(reporterFor('check', options.json ? 'json' : 'pretty', options)(output));
  if (report.summary.interrupted) return EXIT_CODES.interrupted;
  return report.summary.ok ? EXIT_CODES.ok : EXIT_CODES.findings;
}
