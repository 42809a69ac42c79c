import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { parseNonNegativeInteger } from '../options/options.js';
import type { SetExitCode } from './commands.js';
import type { CliContext } from './context.js';

interface ServeFlags {
  port: string;
  host: string;
  fault?: string;
  generationMs?: string;
  heartbeatMs?: string;
  streamMaxMs?: string;
  tokenTtlMs?: string;
  rateWindowMs?: string;
  rateLimit?: string;
  verbose?: boolean;
  workers: string;
}

export function registerServe(program: Command, context: CliContext, setExitCode: SetExitCode): void {
  program
    .command('serve')
    .description('run the reference server (CONTRACT.md under /api), optionally with faults')
    .option('--port <n>', 'port to listen on (0 = any free port)', '8000')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--fault <names>', 'comma-separated faults to inject (see --list-faults)')
    .option('--list-faults', 'list the faults and exit')
    .option('--generation-ms <n>', 'how long one generation takes')
    .option('--heartbeat-ms <n>', 'heartbeat interval')
    .option('--stream-max-ms <n>', 'duration cap of a stream')
    .option('--token-ttl-ms <n>', 'stream token lifetime')
    .option('--rate-window-ms <n>', 'token rate-limit window')
    .option('--rate-limit <n>', 'token requests allowed per window')
    .option('--workers <n>', 'worker processes sharing the port, for more streams than one process can hold', '1')
    .option('--verbose', 'log every request to stderr')
    .action(async (flags: ServeFlags & { listFaults?: boolean }) => {
      const { FAULT_NAMES, DEFAULT_TIMINGS } = await import('../server/referenceServer.js');
      if (flags.listFaults) {
        context.stdout.write(`${FAULT_NAMES.join('\n')}\n`);
        return;
      }
      const faults = (flags.fault ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
      for (const fault of faults) {
        if (!(FAULT_NAMES as readonly string[]).includes(fault)) {
          throw new UsageError(`--fault: unknown fault "${fault}" (known: ${FAULT_NAMES.join(', ')})`);
        }
      }
      if (!/^[1-9]\d*$/.test(flags.workers.trim())) throw new UsageError(`--workers: "${flags.workers}" is not a whole number >= 1`);
      const number = (raw: string | undefined, flag: string, fallback: number) =>
        raw === undefined ? fallback : parseNonNegativeInteger(raw, flag);
      const { serve } = await import('../commands/serve.js');
      await serve(
        Object.freeze({
          port: parseNonNegativeInteger(flags.port, '--port'),
          host: flags.host,
          faults: faults as (typeof FAULT_NAMES)[number][],
          timings: Object.freeze({
            generationMs: number(flags.generationMs, '--generation-ms', DEFAULT_TIMINGS.generationMs),
            heartbeatMs: number(flags.heartbeatMs, '--heartbeat-ms', DEFAULT_TIMINGS.heartbeatMs),
            streamMaxMs: number(flags.streamMaxMs, '--stream-max-ms', DEFAULT_TIMINGS.streamMaxMs),
            tokenTtlMs: number(flags.tokenTtlMs, '--token-ttl-ms', DEFAULT_TIMINGS.tokenTtlMs),
            rateWindowMs: number(flags.rateWindowMs, '--rate-window-ms', DEFAULT_TIMINGS.rateWindowMs),
            rateLimit: number(flags.rateLimit, '--rate-limit', DEFAULT_TIMINGS.rateLimit),
          }),
          verbose: flags.verbose === true,
          workers: Number(flags.workers),
        }),
        { stdout: context.stdout, stderr: context.stderr, signal: context.signal },
      );
      setExitCode(0);
    });
}
