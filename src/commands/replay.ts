import ora from 'ora';
import type { SecretSink } from '../engine/secrets.js';
import { EXIT_CODES, UsageError } from '../errors.js';
import type { TargetOptions } from '../engine/target.js';
import { builtinScenarios } from '../replay/registry.js';
import { runScenarios } from '../replay/runner.js';
import type { ReplaySettings } from '../replay/scenario.js';

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
    if (options.json) {
      io.stdout.write(`${JSON.stringify(scenarios.map(({ name, description, defaultClients }) => ({ name, description, defaultClients })))}\n`);
    } else {
      const width = Math.max(...scenarios.map((scenario) => scenario.name.length));
      io.stdout.write(scenarios.map((scenario) => `${scenario.name.padEnd(width)}  ${scenario.description}\n`).join(''));
    }
    return EXIT_CODES.ok;
  }
  if (options.scenario === undefined) throw new UsageError('replay: name a scenario (see replay --list) or the path of a scenario module');
  // Progress only for a person at a terminal; a pipe or CI gets nothing on stderr but errors.
  const spinner = ora({ stream: io.stderr, discardStdin: false, isSilent: !io.stderrIsTty });
  try {
    const { exitCode } = await runScenarios([options.scenario], options.target, {
      stdout: io.stdout,
      signal: io.signal,
      secrets: io.secrets,
      json: options.json,
      color: options.color,
      onScenarioStart: (scenario, clients) => spinner.start(`replaying ${scenario} with ${clients.join(' and ')}`),
      onScenarioEnd: () => spinner.stop(),
    }, options.settings);
    if (io.signal?.aborted) {
      io.stderr.write('replay: interrupted; the report covers what ran\n');
      return EXIT_CODES.interrupted;
    }
    return exitCode;
  } finally {
    spinner.stop();
  }
}
