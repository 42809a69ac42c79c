import { Option, type Command } from 'commander';
import { PROFILE_NAMES } from '../options/profiles.js';
import { resolveTargetOptions, type TargetFlags } from '../options/options.js';
import type { FlowControl } from '../engine/connection.js';
import type { SecretSink } from '../engine/secrets.js';
import type { TargetOptions } from '../engine/target.js';
import { delay, delayList, duration, nonNegativeInt, repeatable } from '../options/parse.js';

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
  /** Whether stderr is a terminal: spinners and live counters only then. */
  readonly stderrIsTty: boolean;
  /** Aborted on the first Ctrl-C/SIGTERM: commands stop and still report what ran. */
  readonly signal: AbortSignal;
  /** The run's secrets, registered here by the CLI and learnt as tokens are issued; stdout and stderr already pass through it. */
  readonly secrets: SecretSink & { addHeaders(headers: Readonly<Record<string, string>>): void };
  /** Backpressure of stdout, for commands that print as fast as a server sends. */
  readonly stdoutFlow: FlowControl;
  /** Writes a report file through the same redaction as stdout. */
  writeFile(path: string, text: string): void;
}

/** Colour for text written to `stream`: off for --no-color, NO_COLOR, CI and anything but a terminal. */
export function colorFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, noColorFlag: boolean): boolean {
  return !noColorFlag && !env.NO_COLOR && !env.CI && stream.isTTY === true;
}

/** What commander parsed for one command: its positional arguments and its flags. */
export interface ParsedCommand {
  readonly args: readonly unknown[];
  readonly flags: Record<string, unknown>;
}

/**
 * One subcommand, in three steps kept apart so argv -> options is tested without the network:
 * `define` declares flags and arguments, `options` turns them into the command's frozen options
 * (bad values throw a UsageError), `run` lazy-imports `src/commands/<name>.ts` and resolves to
 * the exit code (so `--help` stays fast).
 */
export interface CommandSpec<Options> {
  define(program: Command): Command;
  options(parsed: ParsedCommand, context: CliContext): Options | Promise<Options>;
  run(options: Options, context: CliContext): Promise<number>;
}

/** The flags every command that talks to a target shares. */
export function addTargetOptions(command: Command, { streamUrl = true } = {}): Command {
  command
    .option('--base-url <url>', 'API base URL (env SSE_DOCTOR_BASE_URL)')
    .option('--auth <token>', 'bearer token for the API (env SSE_DOCTOR_AUTH); never printed')
    .option('--other-auth <token>', "a second user's bearer token (env SSE_DOCTOR_OTHER_AUTH)")
    .option('-H, --header <header>', 'extra request header "Name: value" (repeatable)', repeatable)
    .addOption(new Option('--profile <name>', 'contract profile').choices(PROFILE_NAMES))
    .option('--config <file>', 'config file (default ./sse-doctor.config.json)')
    .option('--connect-timeout <duration>', 'connect timeout, e.g. 5s', duration)
    .option('--insecure', 'do not verify TLS certificates (a self-signed staging server); said loudly, never for production')
    .option('--follow-redirects', 'follow 3xx redirects (at most 5; never with the bearer or a credential header to another origin)')
    .option('--json', 'machine-readable output on stdout');
  if (streamUrl) command.option('--url <url>', 'open this SSE URL directly (implies --profile generic)');
  return command;
}

/** The client policy's flags (docs/contract.md, "Client policy"), on every command that runs a client. */
export function addClientPolicyOptions(command: Command): Command {
  return command
    .option('--max-retries <n>', 'reconnect at most N times in a row (client policy)', nonNegativeInt)
    .option('--retry-delays <durations>', 'reconnect delays in order, e.g. 2s,4s,8s (client policy)', delayList)
    .option('--silence <duration>', 'reconnect after this long without a byte, e.g. 15s (client policy)', delay);
}

/** Global, target and command flags, merged as commander holds them. */
export type CommonFlags = TargetFlags & { json?: boolean };

/** The target, with its secrets registered with the redactor before anything can print them. */
export function targetFromFlags(flags: CommonFlags, context: CliContext): TargetOptions {
  const target = resolveTargetOptions(flags, context.env);
  context.secrets.add(target.auth);
  context.secrets.add(target.otherAuth);
  context.secrets.addHeaders(target.headers);
  if (target.insecure) context.stderr.write('sse-doctor: WARNING: --insecure: TLS certificates are NOT verified; anyone between here and the server can read the bearer and the streams\n');
  return target;
}
