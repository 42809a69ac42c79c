import type { Command } from 'commander';
import type { SetExitCode } from './commands.js';
import { addTargetOptions, targetFromFlags, type CliContext, type CommonFlags } from './context.js';

export function registerToken(program: Command, context: CliContext, setExitCode: SetExitCode): void {
  addTargetOptions(
    program
      .command('token')
      .description('ask the token endpoint for a stream token and explain the answer')
      .argument('<id>', 'generation id'),
    { streamUrl: false },
  ).action(async (generationId: string, flags: CommonFlags) => {
    const target = targetFromFlags(flags, context);
    const { token } = await import('../commands/token.js');
    setExitCode(await token({ target, generationId, json: flags.json === true, color: context.colorStdout }, context));
  });
}
