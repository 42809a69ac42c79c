import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { CLIENT_MODELS, type ClientModelName } from '../engine/clientPolicy.js';
import { parseDurationMs, parseNonNegativeInteger } from '../options/options.js';
import { DEFAULT_REPLAY_SETTINGS, type ReplaySettings } from '../replay/scenario.js';
import type { SetExitCode } from './commands.js';
import { parseMillis } from './proxy.js';
import { addTargetOptions, targetFromFlags, type CliContext, type CommonFlags } from './context.js';

interface ReplayFlags extends CommonFlags {
  list?: boolean;
  client?: string;
  maxRequests?: string;
  maxDuration?: string;
  requests?: string;
  rate?: string;
  slow?: boolean;
  cutAfterEvents?: string;
  cutAfterMs?: string;
  reset?: boolean;
}

export function registerReplay(program: Command, context: CliContext, setExitCode: SetExitCode): void {
  addTargetOptions(
    program
      .command('replay')
      .description("replay an incident (a seed's scenario) against the target with client models, and judge it")
      .argument('[scenario]', 'scenario name (see --list) or the path of a scenario module (.js)')
      .option('--list', 'list the built-in scenarios')
      .option('--client <model>', `one client model: ${CLIENT_MODELS.join(', ')} (default: the scenario's, side by side)`)
      .option('--max-requests <n>', `most requests one client may send (default ${DEFAULT_REPLAY_SETTINGS.maxRequests})`)
      .option('--max-duration <duration>', 'longest one client may run, e.g. 20s (default: 20s for retry-storm, else the profile generation timeout)')
      .option('--requests <n>', `rate-limit-spam: token requests to send (default ${DEFAULT_REPLAY_SETTINGS.requests})`)
      .option('--rate <n>', `rate-limit-spam: requests per second (default ${DEFAULT_REPLAY_SETTINGS.ratePerSecond})`)
      .option('--slow', 'rate-limit-spam: wait out the window and check requests succeed again')
      .option('--cut-after-events <n>', `network-cutoff: cut the first stream after N events (default ${DEFAULT_REPLAY_SETTINGS.cut.afterEvents})`)
      .option('--cut-after-ms <ms>', 'network-cutoff: cut the first stream after T ms instead')
      .option('--reset', 'network-cutoff: cut with a TCP reset instead of a FIN'),
    { streamUrl: false },
  ).action(async (scenario: string | undefined, flags: ReplayFlags) => {
    const settings = replaySettingsFromFlags(flags);
    const target = targetFromFlags(flags, context);
    const { replay } = await import('../commands/replay.js');
    setExitCode(
      await replay(
        { target, scenario, list: flags.list === true, settings, json: flags.json === true, color: context.colorStdout },
        { stdout: context.stdout, stderr: context.stderr, signal: context.signal },
      ),
    );
  });
}

/** Flags to frozen replay settings; bad values are usage errors naming the flag. */
export function replaySettingsFromFlags(flags: ReplayFlags): ReplaySettings {
  if (flags.client !== undefined && !(CLIENT_MODELS as readonly string[]).includes(flags.client)) {
    throw new UsageError(`--client: unknown client model "${flags.client}" (expected one of ${CLIENT_MODELS.join(', ')})`);
  }
  const positive = (raw: string, flag: string) => {
    const value = parseNonNegativeInteger(raw, flag);
    if (value === 0) throw new UsageError(`${flag}: must be at least 1`);
    return value;
  };
  if (flags.cutAfterMs !== undefined && flags.cutAfterEvents !== undefined) throw new UsageError('give either --cut-after-events or --cut-after-ms, not both');
  return Object.freeze({
    clients: flags.client === undefined ? undefined : Object.freeze([flags.client as ClientModelName]),
    maxRequests: flags.maxRequests === undefined ? DEFAULT_REPLAY_SETTINGS.maxRequests : positive(flags.maxRequests, '--max-requests'),
    maxDurationMs: flags.maxDuration === undefined ? undefined : parseDurationMs(flags.maxDuration, '--max-duration'),
    requests: flags.requests === undefined ? DEFAULT_REPLAY_SETTINGS.requests : positive(flags.requests, '--requests'),
    ratePerSecond: flags.rate === undefined ? DEFAULT_REPLAY_SETTINGS.ratePerSecond : positive(flags.rate, '--rate'),
    slow: flags.slow === true,
    cut: Object.freeze({
      afterEvents: flags.cutAfterMs !== undefined ? undefined : flags.cutAfterEvents === undefined ? DEFAULT_REPLAY_SETTINGS.cut.afterEvents : positive(flags.cutAfterEvents, '--cut-after-events'),
      afterMs: flags.cutAfterMs === undefined ? undefined : parseMillis(flags.cutAfterMs, '--cut-after-ms'),
      reset: flags.reset === true,
    }),
  });
}
