import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ProxyOptions } from '../commands/proxy.js';
import { UsageError } from '../errors.js';
import { normaliseUrl } from '../options/options.js';
import { duration, nonNegativeInt, positiveInt } from '../options/parse.js';
import type { CommandSpec } from './context.js';

/** The cut flags as commander hands them over; shared by `proxy` and `replay network-cutoff`. */
export interface CutFlags {
  cutAfterEvents?: number;
  cutAfterTime?: number;
  reset?: boolean;
}

interface ProxyFlags extends CutFlags {
  target: string;
  listen: number;
  latency: number;
  buffer: number;
  json?: boolean;
}

/** `--cut-after-events N` or `--cut-after-time D`, and `--reset`. `scope` prefixes the help ("network-cutoff: "). */
export function addCutOptions(command: Command, scope = '', eventsDefault?: number): Command {
  const events = new Option('--cut-after-events <n>', `${scope}cut the stream after N events${eventsDefault === undefined ? '' : ` (default ${eventsDefault})`}`)
    .argParser(positiveInt)
    .conflicts('cutAfterTime');
  return command
    .addOption(events)
    .option('--cut-after-time <duration>', `${scope}cut the stream after this long instead, e.g. 1500ms`, duration)
    .option('--reset', `${scope}cut with a TCP reset (RST) instead of a FIN`);
}

export const proxyCommand: CommandSpec<ProxyOptions> = {
  define: (program: Command) =>
    addCutOptions(
      program
        .command('proxy')
        .description('a fault proxy in front of a target: cut streams, add latency, buffer; logs each connection and reconnect interval')
        .requiredOption('--target <url>', 'the target base URL, e.g. http://127.0.0.1:8000/api')
        .addOption(new Option('--listen <port>', 'port to listen on, on 127.0.0.1 (default: any free port)').argParser(port).default(0))
        .addOption(new Option('--latency <duration>', 'delay every response and chunk by this long, e.g. 200ms').argParser(duration).default(0))
        .addOption(new Option('--buffer <duration>', 'hold stream chunks and flush them this often, e.g. 2s (a buffering proxy)').argParser(duration).default(0))
        .option('--json', 'NDJSON log on stdout'),
    ),
  options: ({ flags }, context) => {
    const proxyFlags = flags as unknown as ProxyFlags;
    if (proxyFlags.reset && proxyFlags.cutAfterEvents === undefined && proxyFlags.cutAfterTime === undefined) {
      throw new UsageError('--reset: needs --cut-after-events or --cut-after-time');
    }
    return Object.freeze({
      target: normaliseUrl(proxyFlags.target, '--target'),
      port: proxyFlags.listen,
      rules: Object.freeze({
        cutAfterEvents: proxyFlags.cutAfterEvents,
        cutAfterMs: proxyFlags.cutAfterTime,
        reset: proxyFlags.reset === true,
        latencyMs: proxyFlags.latency,
        bufferMs: proxyFlags.buffer,
      }),
      json: proxyFlags.json === true,
      color: context.colorStdout,
    });
  },
  run: async (options, context) => {
    const { proxy } = await import('../commands/proxy.js');
    return proxy(options, context);
  },
};

function port(raw: string): number {
  const value = nonNegativeInt(raw);
  if (value > 65_535) throw new InvalidArgumentError('expected a port (0-65535)');
  return value;
}
