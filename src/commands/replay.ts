import ora from 'ora';
import type { SecretSink } from '../engine/secrets.js';
import { EXIT_CODES, UsageError } from '../errors.js';
import type { TargetOptions } from '../engine/target.js';
import { builtinScenarios } from '../replay/registry.js';
import { runScenarios } from '../replay/runner.js';
import type { ReplaySettings } from '../replay/scenario.js';
import { reporterFor } from '../reporters/registry.js';

export interface ReplayOptions {
  readonly target: TargetOptions;
  /** A built-in scenario name or the path of a scenario module; undefined with `list`. */
  readonly scenario: string | undefined;
  readonly list: boolean;
  readonly settings: ReplaySettings;
  readonly json: boolean;
  readonly color: boolean;
}

export interface ReplayCommandIo {
  readonly secrets?: SecretSink;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Progress (a spinner) only for a person at a terminal. */
  readonly stderrIsTty: boolean;
  readonly signal?: AbortSignal;
}

/** `sse-doctor replay <scenario>`: replay an incident against the target and judge it. Exit 1 on a failed verdict. */
export async function replay(options: ReplayOptions, io: ReplayCommandIo): Promise<number> {
  if (options.list) {
    const scenarios = await builtinScenarios();
    io.stdout.write(reporterFor('replay-list', options.json ? 'json' : 'pretty')(scenarios));
    return EXIT_CODES.ok;
  }
  if (options.scenario === undefined) throw new UsageError('replay: name a scenario (see replay --list) or the path of a scenario module');
  const scenarioReport = reporterFor('replay-scenario', 'pretty', options);
  // Progress only for a person at a terminal; a pipe or CI gets nothing on stderr but errors.
  const spinner = ora({ stream: io.stderr, discardStdin: false, isSilent: !io.stderrIsTty });
  try {
    const reports = await runScenarios(
      [options.scenario],
      options.target,
      {
        signal: io.signal,
        secrets: io.secrets,
        onScenarioStart: (scenario, clients) => spinner.start(`replaying ${scenario} with ${clients.join(' and ')}`),
        onScenarioEnd: (scenario, scenarioReports) => {
          spinner.stop();
          // Pretty reports appear as each scenario ends; JSON is one document at the end.
          if (!options.json && scenarioReports.length > 0) io.stdout.write(scenarioReport({ scenario, reports: scenarioReports }));
        },
      },
      options.settings,
    );
    if (options.json) io.stdout.write(reporterFor('replay', 'json')(reports));
    if (io.signal?.aborted) {
      io.stderr.write('replay: interrupted; the report covers what ran\n');
      return EXIT_CODES.interrupted;
    }
    return reports.some((report) => report.verdict === 'fail') ? EXIT_CODES.findings : EXIT_CODES.ok;
  } finally {
    spinner.stop();
  }
}
