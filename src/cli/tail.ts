import { Option, type Command } from 'commander';
import type { TailOptions } from '../commands/tail.js';
import { duration } from '../options/parse.js';
import { addClientPolicyOptions, addTargetOptions, targetFromFlags, type CommandSpec, type CommonFlags } from './context.js';

export const tailCommand: CommandSpec<TailOptions> = {
  define: (program: Command) =>
    addClientPolicyOptions(
      addTargetOptions(
        program
          .command('tail')
          .description('follow a stream live: every event, gaps, reconnects, and how it ended')
          .argument('[id]', 'generation id (omit to create a fresh generation)')
          .option('--fail', 'when creating a generation, use the failing fixture prompt')
          .option('--max-duration <duration>', 'stop after this long (default: the profile generation timeout plus its stream cap)', duration)
          .addOption(new Option('--follow', 'no overall bound: follow until the stream ends for good or Ctrl-C').conflicts('maxDuration')),
      ),
    ),
  options: ({ args, flags }, context) => {
    const tailFlags = flags as CommonFlags & { fail?: boolean; maxDuration?: number; follow?: boolean };
    const target = targetFromFlags(tailFlags, context);
    const { limits } = target.profile;
    return Object.freeze({
      target,
      // Every run ends by itself unless asked not to: a stream that sends an event and closes, over and over, resets any retry count.
      maxDurationMs: tailFlags.follow === true ? undefined : (tailFlags.maxDuration ?? (limits.generationTimeoutSeconds + limits.streamMaxSeconds) * 1000),
      generationId: args[0] as string | undefined,
      failing: tailFlags.fail === true,
      json: tailFlags.json === true,
      color: context.colorStdout,
    });
  },
  run: async (options, context) => {
    const { tail } = await import('../commands/tail.js');
    return tail(options, context);
  },
};
