import type { Command } from 'commander';
import type { TailOptions } from '../commands/tail.js';
import { addClientPolicyOptions, addTargetOptions, targetFromFlags, type CommandSpec, type CommonFlags } from './context.js';

export const tailCommand: CommandSpec<TailOptions> = {
  define: (program: Command) =>
    addClientPolicyOptions(
      addTargetOptions(
        program
          .command('tail')
          .description('follow a stream live: every event, gaps, reconnects, and how it ended')
          .argument('[id]', 'generation id (omit to create a fresh generation)')
          .option('--fail', 'when creating a generation, use the failing fixture prompt'),
      ),
    ),
  options: ({ args, flags }, context) => {
    const tailFlags = flags as CommonFlags & { fail?: boolean };
    return Object.freeze({
      target: targetFromFlags(tailFlags, context),
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
