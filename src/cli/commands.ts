import { Command } from 'commander';
import { analyzeCommand } from './analyze.js';
import { checkCommand } from './check.js';
import type { CliContext, CommandSpec } from './context.js';
import { judgeCommand } from './judge.js';
import { loadCommand } from './load.js';
import { mergeCommand } from './merge.js';
import { proxyCommand } from './proxy.js';
import { replayCommand } from './replay.js';
import { serveCommand } from './serve.js';
import { tailCommand } from './tail.js';
import { tokenCommand } from './token.js';

/** Every subcommand, in `--help` order. Flags live in `src/cli/<name>.ts`, the work in `src/commands/<name>.ts`. */
const COMMANDS = [serveCommand, tokenCommand, tailCommand, checkCommand, replayCommand, proxyCommand, loadCommand, mergeCommand, analyzeCommand, judgeCommand] as const;

/** What happens once a command's flags are parsed into its options: `cli.ts` runs it; tests capture the options. */
export type OnParsed = <Options>(spec: CommandSpec<Options>, options: Options) => Promise<void>;

/** The whole command line: global flags, every subcommand, errors as one line written to `context.stderr`. */
export function buildProgram(version: string, context: CliContext, onParsed: OnParsed): Command {
  const program = new Command('sse-doctor')
    .description('Diagnose, contract-check, replay and load-test Server-Sent Events backends')
    .version(version)
    .option('--no-color', 'no colours in the output (also NO_COLOR, pipes and CI)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.stdout.write(text),
      writeErr: (text) => context.stderr.write(text),
      // Bad input is one line, worded like the errors `cli.ts` prints.
      outputError: (text, write) => write(`sse-doctor: ${text.replace(/^error: /, '').trimEnd()} (see --help)\n`),
    });
  registerCommands(program, context, onParsed);
  return program;
}

function registerCommands(program: Command, context: CliContext, onParsed: OnParsed): void {
  for (const spec of COMMANDS as readonly CommandSpec<unknown>[]) {
    spec.define(program).action(async (...args: unknown[]) => {
      // Commander calls back with the positional arguments, then the flags, then the command.
      const command = args.at(-1) as Command;
      const options = await spec.options({ args: args.slice(0, -2), flags: command.opts() }, context);
      await onParsed(spec, options);
    });
  }
}
