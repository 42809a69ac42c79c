import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { normaliseUrl, parseDurationMs, parseNonNegativeInteger } from '../options/options.js';
import type { FaultRules } from '../proxy/faultProxy.js';
import type { SetExitCode } from './commands.js';
import type { CliContext } from './context.js';

interface ProxyFlags {
  target?: string;
  listen?: string;
  cutAfterEvents?: string;
  cutAfterMs?: string;
  reset?: boolean;
  latency?: string;
  buffer?: string;
  json?: boolean;
}

export function registerProxy(program: Command, context: CliContext, setExitCode: SetExitCode): void {
  program
    .command('proxy')
    .description('a fault proxy in front of a target: cut streams, add latency, buffer; logs each connection and reconnect interval')
    .requiredOption('--target <url>', 'the target base URL, e.g. http://127.0.0.1:8000/api')
    .option('--listen <port>', 'port to listen on, on 127.0.0.1 (default: any free port)')
    .option('--cut-after-events <n>', 'cut every stream after N events')
    .option('--cut-after-ms <ms>', 'cut every stream after T ms')
    .option('--reset', 'cut with a TCP reset (RST) instead of a FIN')
    .option('--latency <ms>', 'delay every response and chunk by MS ms')
    .option('--buffer <ms>', 'hold stream chunks and flush them every MS ms (a buffering proxy)')
    .option('--json', 'NDJSON log on stdout')
    .action(async (flags: ProxyFlags) => {
      const options = proxyOptionsFromFlags(flags);
      const { proxy } = await import('../commands/proxy.js');
      setExitCode(await proxy({ ...options, json: flags.json === true, color: context.colorStdout }, { stdout: context.stdout, signal: context.signal }));
    });
}

/** A flag named in ms (`--latency MS`): a bare number is milliseconds; `2s` and `500ms` work too. */
export function parseMillis(raw: string, flag: string): number {
  return /^\d+(\.\d+)?$/.test(raw.trim()) ? Math.round(Number(raw)) : parseDurationMs(raw, flag);
}

/** Flags to the proxy's frozen target, port and rules; bad values are usage errors naming the flag. */
export function proxyOptionsFromFlags(flags: ProxyFlags): { target: string; port: number; rules: FaultRules } {
  if (flags.target === undefined) throw new UsageError('--target: required (the base URL of the server to proxy)');
  if (flags.cutAfterEvents !== undefined && flags.cutAfterMs !== undefined) throw new UsageError('give either --cut-after-events or --cut-after-ms, not both');
  if (flags.reset && flags.cutAfterEvents === undefined && flags.cutAfterMs === undefined) throw new UsageError('--reset: needs --cut-after-events or --cut-after-ms');
  const port = flags.listen === undefined ? 0 : parseNonNegativeInteger(flags.listen, '--listen');
  if (port > 65_535) throw new UsageError(`--listen: ${port} is not a port (0-65535)`);
  return Object.freeze({
    target: normaliseUrl(flags.target, '--target'),
    port,
    rules: Object.freeze({
      cutAfterEvents: flags.cutAfterEvents === undefined ? undefined : parseNonNegativeInteger(flags.cutAfterEvents, '--cut-after-events'),
      cutAfterMs: flags.cutAfterMs === undefined ? undefined : parseMillis(flags.cutAfterMs, '--cut-after-ms'),
      reset: flags.reset === true,
      latencyMs: flags.latency === undefined ? 0 : parseMillis(flags.latency, '--latency'),
      bufferMs: flags.buffer === undefined ? 0 : parseMillis(flags.buffer, '--buffer'),
    }),
  });
}
