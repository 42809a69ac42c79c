import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concurrencyLimit } from '../helpers/concurrency.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'sse-doctor.js');

/** What one spawned CLI did: its exit code, its output, how long it ran and its peak memory. */
export interface ProbeRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** Peak resident set (VmHWM) of the child, in MiB, as last read from /proc before it exited. */
  readonly peakMiB: number;
  /** The probe was killed at its hard bound: the command did not end by itself. */
  readonly killed: boolean;
}

export interface ProbeOptions {
  /** Kill the child after this long (a hang detector, not a performance figure). */
  readonly hardLimitMs?: number;
  /** Read stdout slowly: 16 KiB every 100 ms, as a pager or a slow terminal would. */
  readonly slowReader?: boolean;
  /** Close stdout after the first chunk, as `| head -1` does. */
  readonly closeStdoutEarly?: boolean;
  /** Send SIGINT after this long… */
  readonly interruptAfterMs?: number;
  /** …or this long after `interruptWhen` resolves (the run is under way). */
  readonly interruptWhen?: Promise<unknown>;
  /** Runs while the CLI runs (e.g. a request through the proxy); given the stdout read so far. */
  readonly during?: (stdoutSoFar: () => string) => Promise<void>;
  readonly env?: NodeJS.ProcessEnv;
  /** Keep at most this much of stdout (a flood writes hundreds of MiB). */
  readonly keepStdoutBytes?: number;
}

function peakRssMiB(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** At most this many CLIs at once (see `concurrencyLimit`). */
const slot = concurrencyLimit(3);

/** Runs the built CLI once, measuring time and peak RSS (polled from /proc every 20 ms). */
export function probe(args: string[], options: ProbeOptions = {}): Promise<ProbeRun> {
  return slot(() => runProbe(args, options));
}

function runProbe(args: string[], options: ProbeOptions): Promise<ProbeRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: tmpdir(),
    env: { ...process.env, NO_COLOR: '1', SSE_DOCTOR_AUTH: '', SSE_DOCTOR_OTHER_AUTH: '', SSE_DOCTOR_BASE_URL: '', GITHUB_ACTIONS: '', CI: '', ...options.env },
  });
  let stdout = '';
  let stderr = '';
  let peakMiB = 0;
  let killed = false;
  const keep = options.keepStdoutBytes ?? 4 * 1024 * 1024;
  const onStdout = (chunk: Buffer) => {
    if (stdout.length < keep) stdout += chunk.toString('utf8');
  };
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdout.on('error', () => undefined);
  let slowTimer: NodeJS.Timeout | undefined;
  if (options.closeStdoutEarly) {
    child.stdout.once('data', (chunk: Buffer) => {
      onStdout(chunk);
      child.stdout.destroy();
    });
  } else if (options.slowReader) {
    child.stdout.pause();
    slowTimer = setInterval(() => {
      let read = 0;
      let chunk: Buffer | null;
      while (read < 16_384 && (chunk = child.stdout.read() as Buffer | null) !== null) {
        read += chunk.length;
        onStdout(chunk);
      }
    }, 100);
  } else {
    child.stdout.on('data', onStdout);
  }
  const poll = setInterval(() => {
    const now = child.pid === undefined ? undefined : peakRssMiB(child.pid);
    if (now !== undefined) peakMiB = Math.max(peakMiB, now);
  }, 20);
  const hard = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, options.hardLimitMs ?? 30_000);
  let interrupt: NodeJS.Timeout | undefined;
  const armInterrupt = () => (interrupt = setTimeout(() => child.kill('SIGINT'), options.interruptAfterMs ?? 0));
  const during = options.during?.(() => stdout).catch(() => undefined);
  // After the run is under way: the server saw it, or the work done alongside it is over.
  const underWay = options.interruptWhen ?? during;
  if (underWay !== undefined) void underWay.then(armInterrupt);
  else if (options.interruptAfterMs !== undefined) armInterrupt();
  return new Promise((resolve) => {
    child.on('exit', () => {
      // The last poll may be up to 20 ms old; the child's /proc entry is gone after exit.
      clearInterval(poll);
    });
    child.on('close', async (code, signal) => {
      clearTimeout(hard);
      clearTimeout(interrupt);
      clearInterval(slowTimer);
      await during;
      resolve({ code: code ?? (signal === 'SIGINT' ? 130 : -1), stdout, stderr, ms: Math.round(performance.now() - started), peakMiB: Math.round(peakMiB), killed });
    });
  });
}

/** Raw control bytes (C0 but tab and newline, DEL, C1) that must never reach a terminal. */
// eslint-disable-next-line no-control-regex -- matching control bytes is this pattern's whole job
export const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]/;
