import { Option, type Command } from 'commander';
import type { ReplayOptions } from '../commands/replay.js';
import { CLIENT_MODELS, type ClientModelName } from '../engine/clientPolicy.js';
import { duration, positiveInt } from '../options/parse.js';
import { DEFAULT_REPLAY_SETTINGS } from '../replay/scenario.js';
import { addClientPolicyOptions, addTargetOptions, targetFromFlags, type CommandSpec, type CommonFlags } from './context.js';
import { addCutOptions, type CutFlags } from './proxy.js';

interface ReplayFlags extends CommonFlags, CutFlags {
  list?: boolean;
  client?: ClientModelName;
  clientModel?: string;
  maxRequests?: number;
  maxDuration?: number;
  requests?: number;
  rate?: number;
  slow?: boolean;
}

export const replayCommand: CommandSpec<ReplayOptions> = {
  define: (program: Command) =>
    addCutOptions(
      addClientPolicyOptions(
        addTargetOptions(
          program
            .command('replay')
            .description("replay an incident (a seed's scenario) against the target with client models, and judge it")
            .argument('[scenario]', 'scenario name (see --list) or the path of a scenario module (.js)')
            .option('--list', 'list the built-in scenarios')
            .addOption(new Option('--client <model>', "one client model (default: the scenario's, side by side)").choices(CLIENT_MODELS))
            .addOption(new Option('--client-model <file>', 'a client model measured by analyze --client-model').conflicts('client'))
            .option('--max-requests <n>', `most requests one client may send (default ${DEFAULT_REPLAY_SETTINGS.maxRequests})`, positiveInt)
            .option('--max-duration <duration>', 'longest one client may run, e.g. 20s (default: 20s for retry-storm, else the profile generation timeout)', duration)
            .option('--requests <n>', `rate-limit-spam: token requests to send (default ${DEFAULT_REPLAY_SETTINGS.requests})`, positiveInt)
            .option('--rate <n>', `rate-limit-spam: requests per second (default ${DEFAULT_REPLAY_SETTINGS.ratePerSecond})`, positiveInt)
            .option('--slow', 'rate-limit-spam: wait out the window and check requests succeed again'),
          { streamUrl: false },
        ),
      ),
      'network-cutoff: ',
      DEFAULT_REPLAY_SETTINGS.cut.afterEvents,
    ),
  options: async ({ args, flags }, context) => {
    const replayFlags = flags as ReplayFlags;
    const cutAfterEvents = replayFlags.cutAfterTime !== undefined ? undefined : (replayFlags.cutAfterEvents ?? DEFAULT_REPLAY_SETTINGS.cut.afterEvents);
    return Object.freeze({
      target: targetFromFlags(replayFlags, context),
      scenario: args[0] as string | undefined,
      list: replayFlags.list === true,
      settings: Object.freeze({
        clients:
          replayFlags.clientModel !== undefined ? Object.freeze([(await import('../analyze/clientModel.js')).readClientModel(replayFlags.clientModel)])
          : replayFlags.client === undefined ? undefined
          : Object.freeze([replayFlags.client]),
        maxRequests: replayFlags.maxRequests ?? DEFAULT_REPLAY_SETTINGS.maxRequests,
        maxDurationMs: replayFlags.maxDuration,
        requests: replayFlags.requests ?? DEFAULT_REPLAY_SETTINGS.requests,
        ratePerSecond: replayFlags.rate ?? DEFAULT_REPLAY_SETTINGS.ratePerSecond,
        slow: replayFlags.slow === true,
        cut: Object.freeze({ afterEvents: cutAfterEvents, afterMs: replayFlags.cutAfterTime, reset: replayFlags.reset === true }),
      }),
      json: replayFlags.json === true,
      color: context.colorStdout,
    });
  },
  run: async (options, context) => {
    const { replay } = await import('../commands/replay.js');
    return replay(options, context);
  },
};
