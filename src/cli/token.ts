import type { Command } from 'commander';
import type { TokenOptions } from '../commands/token.js';
import { addTargetOptions, targetFromFlags, type CommandSpec, type CommonFlags } from './context.js';

export const tokenCommand: CommandSpec<TokenOptions> = {
  define: (program: Command) =>
    addTargetOptions(
      program
        .command('token')
        .description('ask the token endpoint for a stream token and explain the answer')
        .argument('<id>', 'generation id'),
      { streamUrl: false },
    ),
  options: ({ args, flags }, context) =>
    Object.freeze({
      target: targetFromFlags(flags as CommonFlags, context),
      generationId: args[0] as string,
      json: (flags as CommonFlags).json === true,
      color: context.colorStdout,
    }),
  run: async (options, context) => {
    const { token } = await import('../commands/token.js');
    return token(options, context);
  },
};
