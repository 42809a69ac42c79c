import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { buildProgram } from './cli/commands.js';
import { colorFor, type CliContext } from './cli/context.js';
import { DoctorError, EXIT_CODES } from './errors.js';
import { Redactor, redactingWriter } from './engine/secrets.js';
import { writeReportFile } from './cli/outputFiles.js';
import { terminalSafe } from './reporters/terminalText.js';

// The only module that reads argv, decides colours, catches at the top and sets the exit code.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

// One redactor for every writer of the run; secrets are registered with it as the options are read.
const redactor = new Redactor();
const stdout = redactingWriter(process.stdout, redactor);
const stderr = redactingWriter(process.stderr, redactor);
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
  secrets: redactor,
  // A pipe to a slow reader buffers in this process unless the stream source waits for 'drain'.
  stdoutFlow: { ready: () => !process.stdout.writableNeedDrain, onReady: (resume) => process.stdout.once('drain', resume) },
  writeFile: (path, text) => writeReportFile(path, text, redactor),
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

// `sse-doctor tail … | head -1`: the reader is gone, so the run stops quietly, without a stack trace.
let outputClosed = false;
const onOutputError = (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && !(outputClosed && error.code === 'ERR_STREAM_DESTROYED')) throw error;
  outputClosed = true;
  aborter.abort();
};
process.stdout.on('error', onOutputError);
process.stderr.on('error', onOutputError);

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
  if (outputClosed) process.exitCode = EXIT_CODES.outputClosed;
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its one-line message.
    return ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code) ? EXIT_CODES.ok : EXIT_CODES.usage;
  }
  if (error instanceof DoctorError) {
    stderr.write(`sse-doctor: ${terminalSafe(error.message)}\n`);
    return error.exitCode;
  }
  // Not ours: rethrow so the stack survives (a bug report needs it).
  throw error;
}
