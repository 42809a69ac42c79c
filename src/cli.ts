import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerCommands } from './cli/commands.js';
import type { CliContext } from './cli/context.js';
import { DoctorError, EXIT_CODES } from './errors.js';
import { redactingWriter, scrubSecrets } from './engine/secrets.js';

// The only module that reads argv, decides colours, catches at the top and sets the exit code.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const stdout = redactingWriter(process.stdout);
const stderr = redactingWriter(process.stderr);
const colorOff = process.argv.includes('--no-color') || Boolean(process.env.NO_COLOR) || Boolean(process.env.CI);
const aborter = new AbortController();
const context: CliContext = {
  stdout,
  stderr,
  stdin: process.stdin,
  env: process.env,
  colorStdout: !colorOff && process.stdout.isTTY === true,
  colorStderr: !colorOff && process.stderr.isTTY === true,
  signal: aborter.signal,
};

let interrupts = 0;
const onSignal = () => {
  interrupts++;
  // First Ctrl-C: stop and report what ran. Second: leave now.
  if (interrupts > 1) process.exit(130);
  aborter.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const program = new Command('sse-doctor')
  .description('Diagnose, contract-check, replay and load-test Server-Sent Events backends')
  .version(version)
  .option('--no-color', 'no colours in the output (also NO_COLOR, pipes and CI)')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .configureOutput({ writeOut: (text) => stdout.write(text), writeErr: (text) => stderr.write(text) });

registerCommands(program, context, (code) => {
  process.exitCode = code;
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = exitCodeFor(error);
} finally {
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its one-line message.
    return ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code) ? EXIT_CODES.ok : EXIT_CODES.usage;
  }
  if (error instanceof DoctorError) {
    stderr.write(`sse-doctor: ${scrubSecrets(error.message)}\n`);
    return error.exitCode;
  }
  // Not ours: rethrow so the stack survives (a bug report needs it).
  throw error;
}
