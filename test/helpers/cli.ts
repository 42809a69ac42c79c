import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'sse-doctor.js');

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Runs the CLI under `ulimit -n` of this many files. */
  readonly openFilesLimit?: number;
}

/**
 * Starts the built CLI as a user would: no colours, no inherited sse-doctor or CI settings.
 * The child is exposed for tests that read its output live or send it a signal.
 */
export function startCli(args: string[], options: CliOptions = {}): { child: ChildProcessWithoutNullStreams; exited: Promise<CliRun> } {
  const command = [process.execPath, BIN, ...args];
  const [file, ...argv] = options.openFilesLimit === undefined ? command : ['bash', '-c', 'ulimit -n "$0" && exec "$@"', String(options.openFilesLimit), ...command];
  const child = spawn(file as string, argv, {
    cwd: options.cwd ?? tmpdir(),
    env: { ...process.env, NO_COLOR: '1', SSE_DOCTOR_AUTH: '', SSE_DOCTOR_OTHER_AUTH: '', SSE_DOCTOR_BASE_URL: '', GITHUB_ACTIONS: '', ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<CliRun>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return { child, exited };
}

/** Runs the built CLI to its end. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return startCli(args, options).exited;
}
