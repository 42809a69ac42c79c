import type { Command } from 'commander';
import { resolveTargetOptions, type TargetFlags, type TargetOptions } from '../options/options.js';

/** What a command needs from the process, handed down by `cli.ts` so commands stay testable. */
export interface CliContext {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** What `-` reads (analyze). */
  readonly stdin: NodeJS.ReadableStream;
  readonly env: NodeJS.ProcessEnv;
  /** Colour for what goes to stdout / stderr: off for NO_COLOR, a pipe, CI or --no-color. */
  readonly colorStdout: boolean;
  readonly colorStderr: boolean;
  /** Aborted on the first Ctrl-C/SIGTERM: commands stop and still report what ran. */
  readonly signal: AbortSignal;
}

/** The flags every command that talks to a target shares. */
export function addTargetOptions(command: Command, { streamUrl = true } = {}): Command {
  command
    .option('--base-url <url>', 'API base URL (env SSE_DOCTOR_BASE_URL)')
    .option('--auth <token>', 'bearer token for the API (env SSE_DOCTOR_AUTH); never printed')
    .option('--other-auth <token>', "a second user's bearer token (env SSE_DOCTOR_OTHER_AUTH)")
    .option('-H, --header <header...>', 'extra request header "Name: value" (repeatable)')
    .option('--profile <name>', 'contract profile: generations or generic')
    .option('--config <file>', 'config file (default ./sse-doctor.config.json)')
    .option('--connect-timeout <duration>', 'connect timeout, e.g. 5s')
    .option('--json', 'machine-readable output on stdout');
  if (streamUrl) command.option('--url <url>', 'open this SSE URL directly (implies --profile generic)');
  return command;
}

/** Global, target and command flags, merged as commander holds them. */
export type CommonFlags = TargetFlags & { json?: boolean };

export function targetFromFlags(flags: CommonFlags, context: CliContext): TargetOptions {
  return resolveTargetOptions(flags, context.env);
}
