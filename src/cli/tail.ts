import type { Command } from 'commander';
import type { SetExitCode } from './commands.js';
import { addTargetOptions, targetFromFlags, type CliContext, type CommonFlags } from './context.js';

export function registerTail(program: Command, context: CliContext, setExitCode: SetExitCode): void {
  addTargetOptions(
    program
      .command('tail')
      .description('follow a stream live: every event, gaps, reconnects, and how it ended')
      .argument('[id]', 'generation id (omit to create a fresh generation)')
      .option('--fail', 'when creating a generation, use the failing fixture prompt')
      .option('--max-retries <n>', 'reconnect at most N times in a row (client policy)'),
  ).action(async (generationId: string | undefined, flags: CommonFlags & { fail?: boolean }) => {
    const target = targetFromFlags(flags, context);
    const { tail } = await import('../commands/tail.js');
    setExitCode(
      await tail(
        { target, generationId, failing: flags.fail === true, json: flags.json === true, color: context.colorStdout },
        { stdout: context.stdout, signal: context.signal },
      ),
    );
  });
}
