import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ServeOptions } from '../commands/serve.js';
import { DEFAULT_TIMINGS, FAULT_NAMES, type FaultName } from '../server/settings.js';
import { duration, nonNegativeInt, positiveInt } from '../options/parse.js';
import type { CommandSpec } from './context.js';

interface ServeFlags {
  port: number;
  host: string;
  fault?: FaultName[];
  listFaults?: boolean;
  generation?: number;
  heartbeat?: number;
  streamMax?: number;
  tokenTtl?: number;
  rateWindow?: number;
  rateLimit?: number;
  verbose?: boolean;
  workers: number;
}

/** `serve`'s options, or just the request to list the faults. */
export type ServeCommandOptions = ServeOptions & { readonly listFaults: boolean };

export const serveCommand: CommandSpec<ServeCommandOptions> = {
  define: (program: Command) =>
    program
      .command('serve')
      .description('run the reference server (docs/contract.md under /api), optionally with faults')
      .addOption(new Option('--port <n>', 'port to listen on (0 = any free port)').argParser(nonNegativeInt).default(8000))
      .option('--host <host>', 'address to listen on', '127.0.0.1')
      .option('--fault <names>', 'comma-separated faults to inject (see --list-faults)', faultList)
      .option('--list-faults', 'list the faults and exit')
      .option('--generation <duration>', `how long one generation takes (default ${DEFAULT_TIMINGS.generationMs}ms)`, duration)
      .option('--heartbeat <duration>', `heartbeat interval, 0s for none (default ${DEFAULT_TIMINGS.heartbeatMs}ms)`, duration)
      .option('--stream-max <duration>', `duration cap of a stream (default ${DEFAULT_TIMINGS.streamMaxMs}ms)`, duration)
      .option('--token-ttl <duration>', `stream token lifetime (default ${DEFAULT_TIMINGS.tokenTtlMs}ms)`, duration)
      .option('--rate-window <duration>', `token rate-limit window (default ${DEFAULT_TIMINGS.rateWindowMs}ms)`, duration)
      .option('--rate-limit <n>', `token requests allowed per window (default ${DEFAULT_TIMINGS.rateLimit})`, nonNegativeInt)
      .addOption(new Option('--workers <n>', 'worker processes sharing the port, for more streams than one process can hold').argParser(positiveInt).default(1))
      .option('--verbose', 'log every request to stderr'),
  options: ({ flags }) => {
    const serveFlags = flags as unknown as ServeFlags;
    return Object.freeze({
      listFaults: serveFlags.listFaults === true,
      port: serveFlags.port,
      host: serveFlags.host,
      faults: Object.freeze([...(serveFlags.fault ?? [])]),
      timings: Object.freeze({
        generationMs: serveFlags.generation ?? DEFAULT_TIMINGS.generationMs,
        heartbeatMs: serveFlags.heartbeat ?? DEFAULT_TIMINGS.heartbeatMs,
        streamMaxMs: serveFlags.streamMax ?? DEFAULT_TIMINGS.streamMaxMs,
        tokenTtlMs: serveFlags.tokenTtl ?? DEFAULT_TIMINGS.tokenTtlMs,
        rateWindowMs: serveFlags.rateWindow ?? DEFAULT_TIMINGS.rateWindowMs,
        rateLimit: serveFlags.rateLimit ?? DEFAULT_TIMINGS.rateLimit,
      }),
      verbose: serveFlags.verbose === true,
      workers: serveFlags.workers,
    });
  },
  run: async (options, context) => {
    if (options.listFaults) {
      context.stdout.write(`${FAULT_NAMES.join('\n')}\n`);
      return 0;
    }
    const { serve } = await import('../commands/serve.js');
    await serve(options, context);
    return 0;
  },
};

/** `a,b`: known fault names, repeatable. */
function faultList(raw: string, previous: FaultName[] | undefined): FaultName[] {
  const names = raw.split(',').map((name) => name.trim()).filter((name) => name !== '');
  for (const name of names) {
    if (!(FAULT_NAMES as readonly string[]).includes(name)) throw new InvalidArgumentError(`unknown fault "${name}" (known: ${FAULT_NAMES.join(', ')})`);
  }
  return [...(previous ?? []), ...(names as FaultName[])];
}
