import { defaultPartFile } from '../load/part.js';
import { checkOutputPath } from './outputFiles.js';
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { LoadOptions } from '../commands/load.js';
import { CLIENT_MODELS, type ClientModelName } from '../engine/clientPolicy.js';
import { UsageError } from '../errors.js';
import { loopbackSourceNetwork, type Arrival, type LoadPlan } from '../load/plan.js';
import { parseThreshold, type Threshold } from '../load/thresholds.js';
import { duration, positiveDuration, positiveInt } from '../options/parse.js';
import { addClientPolicyOptions, addTargetOptions, targetFromFlags, type CommandSpec, type CommonFlags } from './context.js';

interface LoadFlags extends CommonFlags {
  clients?: number;
  rate?: number;
  duration: number;
  ramp: number;
  maxRequests?: number;
  tokenSpam?: boolean;
  ids?: string;
  client: ClientModelName;
  clientModel?: string;
  workers: number;
  shard?: { index: number; count: number };
  part?: string;
  threshold?: Threshold[];
  html?: string;
}

// Defaults safe for a staging server: a handful of clients for half a minute.
const DEFAULT_CLIENTS = 10;
const MAX_WORKERS = 64;

/** `--threshold EXPR`, repeatable, parsed as it is read; shared by load and merge. */
export function addThresholdOption(command: Command): Command {
  return command.option(
    '--threshold <expr>',
    "CI gate, e.g. 'p95(firstEvent)<500ms' or 'rate429<0.05' (repeatable; a missed one exits 1)",
    (raw: string, previous: Threshold[] | undefined) => [...(previous ?? []), parseThreshold(raw)],
  );
}

export const loadCommand: CommandSpec<LoadOptions> = {
  define: (program: Command) =>
    addThresholdOption(
      addClientPolicyOptions(
        addTargetOptions(
          program
            .command('load')
            .description('many concurrent clients: streams opened, events/s, 429 rate, latencies, errors (HDR histograms)')
            .addOption(
              new Option('--clients <n>', `virtual clients, each looping over the full flow (closed model; default ${DEFAULT_CLIENTS})`)
                .argParser(positiveInt)
                .conflicts('rate'),
            )
            .option('--rate <r>', 'new clients per second, e.g. 50/s (open model; latency counted from the intended start)', ratePerSecond)
            .addOption(new Option('--duration <duration>', 'how long the test runs').argParser(positiveDuration).default(30_000, '30s'))
            .addOption(new Option('--ramp <duration>', 'start clients (or grow the rate) linearly over this long').argParser(duration).default(0, '0s'))
            .option('--max-requests <n>', 'stop starting flows once N requests (create + token + stream) are made or reserved', positiveInt)
            .option('--token-spam', 'hit only the token endpoint, as fast as it answers')
            .option('--ids <file>', 'use these generation ids (one per line) instead of creating generations')
            .addOption(new Option('--client <model>', 'client model').choices(CLIENT_MODELS).default('robust'))
            .addOption(new Option('--client-model <file>', 'a client model measured by analyze --client-model').conflicts('client'))
            .addOption(new Option('--workers <n>', 'spread the clients over N processes (source addresses 127.0.0.x on loopback)').argParser(workerCount).default(1))
            .option('--shard <i/n>', 'run part i (0-based) of n and write it to --part for sse-doctor merge', parseShard)
            .option('--part <file>', 'where --shard writes its part (default sse-doctor-part-<i>-of-<n>.json)')
            .option('--html <file>', 'also write a self-contained HTML report with charts'),
        ),
      ),
    ),
  options: async ({ flags }, context) => {
    const loadFlags = flags as unknown as LoadFlags;
    const target = targetFromFlags(loadFlags, context);
    const arrival: Arrival =
      loadFlags.rate !== undefined ? { kind: 'open', ratePerSecond: loadFlags.rate } : { kind: 'closed', clients: loadFlags.clients ?? DEFAULT_CLIENTS };
    const plan = Object.freeze<LoadPlan>({
      target,
      mode: loadFlags.tokenSpam ? 'token-spam' : 'streams',
      arrival,
      durationMs: loadFlags.duration,
      rampMs: loadFlags.ramp,
      maxRequests: loadFlags.maxRequests,
      ids: loadFlags.ids === undefined ? undefined : readIds(loadFlags.ids),
      client: loadFlags.clientModel === undefined ? loadFlags.client : (await import('../analyze/clientModel.js')).readClientModel(loadFlags.clientModel),
      sourceNetwork: loopbackSourceNetwork(target, 0),
    });
    if (plan.mode === 'token-spam' && (target.streamUrl !== undefined || !target.profile.usesTokens)) {
      throw new UsageError('--token-spam: needs a profile with a token endpoint (not --url or --profile generic)');
    }
    return Object.freeze({
      plan,
      workers: loadFlags.workers,
      shard: loadFlags.shard,
      // Checked now: a run of minutes must not end with its part lost to a bad path.
      partFile: loadFlags.shard === undefined ? loadFlags.part : checkOutputPath(loadFlags.part ?? defaultPartFile(loadFlags.shard), '--part'),
      thresholds: Object.freeze([...(loadFlags.threshold ?? [])]),
      json: loadFlags.json === true,
      htmlFile: loadFlags.html === undefined ? undefined : checkOutputPath(loadFlags.html, '--html'),
      color: context.colorStdout,
    });
  },
  run: async (options, context) => {
    const { load } = await import('../commands/load.js');
    return load(options, context);
  },
};

/** `50/s` or `50`: new clients per second. */
function ratePerSecond(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(raw.trim());
  const rate = match ? Number(match[1]) : NaN;
  if (!(rate > 0)) throw new InvalidArgumentError('expected a rate such as 50/s');
  return rate;
}

function workerCount(raw: string): number {
  const workers = positiveInt(raw);
  if (workers > MAX_WORKERS) throw new InvalidArgumentError(`at most ${MAX_WORKERS}`);
  return workers;
}

/** `i/n`, 0-based: `--shard $JOB_COMPLETION_INDEX/4` in a Kubernetes Indexed Job. */
function parseShard(raw: string): { index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(raw.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index >= count) throw new InvalidArgumentError('expected i/n with 0 <= i < n (e.g. 0/4)');
  return { index, count };
}

function readIds(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--ids: cannot read ${file} (${(error as Error).message})`, { cause: error });
  }
  const ids = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  if (ids.length === 0) throw new UsageError(`--ids: ${file} holds no ids (one per line)`);
  return ids;
}
