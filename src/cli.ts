import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { buildProgram } from './cli/commands.js';
import { colorFor, type CliContext } from './cli/context.js';
import { DoctorError, EXIT_CODES } from './errors.js';
import { redactingWriter, scrubSecrets } from './engine/secrets.js';

// The only module that reads argv, decides colours, catches at the top and sets the exit code.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const stdout = redactingWriter(process.stdout);
const stderr = redactingWriter(process.stderr);
const noColorFlag = process.argv.includes('--no-color');
const aborter = new AbortController();
const context: CliContext = {
  stdout,
  stderr,
  stdin: process.stdin,
  env: process.env,
  colorStdout: colorFor(process.stdout, process.env, noColorFlag),
  colorStderr: colorFor(process.stderr, process.env, noColorFlag),
  stderrIsTty: process.stderr.isTTY === true,
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

const program = buildProgram(version, context, async (spec, options) => {
  process.exitCode = await spec.run(options, context);
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
