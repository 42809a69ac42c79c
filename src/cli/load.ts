import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CLIENT_MODELS, type ClientModelName } from '../engine/clientPolicy.js';
import { UsageError } from '../errors.js';
import { loopbackSourceNetwork, type Arrival, type LoadPlan } from '../load/plan.js';
import { parseDurationMs, parseNonNegativeInteger } from '../options/options.js';
import type { SetExitCode } from './commands.js';
import { addTargetOptions, targetFromFlags, type CliContext, type CommonFlags } from './context.js';

interface LoadFlags extends CommonFlags {
  clients?: string;
  rate?: string;
  duration: string;
  ramp: string;
  maxRequests?: string;
  tokenSpam?: boolean;
  ids?: string;
  client: string;
  clientModel?: string;
  workers: string;
  shard?: string;
  part?: string;
  threshold?: string[];
  html?: string;
}

// Defaults safe for a staging server: a handful of clients for half a minute.
const DEFAULT_CLIENTS = 10;
const MAX_WORKERS = 64;

export function registerLoad(program: Command, context: CliContext, setExitCode: SetExitCode): void {
  addTargetOptions(
    program
      .command('load')
      .description('many concurrent clients: streams opened, events/s, 429 rate, latencies, errors (HDR histograms)')
      .option('--clients <n>', `virtual clients, each looping over the full flow (closed model; default ${DEFAULT_CLIENTS})`)
      .option('--rate <r>', 'new clients per second, e.g. 50/s (open model; latency counted from the intended start)')
      .option('--duration <d>', 'how long the test runs', '30s')
      .option('--ramp <d>', 'start clients (or grow the rate) linearly over this long', '0s')
      .option('--max-requests <n>', 'stop starting flows once N requests (create + token + stream) are made or reserved')
      .option('--token-spam', 'hit only the token endpoint, as fast as it answers')
      .option('--ids <file>', 'use these generation ids (one per line) instead of creating generations')
      .option('--client <model>', `client model: ${CLIENT_MODELS.join(', ')}`, 'robust')
      .option('--client-model <file>', 'a client model measured by analyze --client-model (instead of --client)')
      .option('--workers <n>', 'spread the clients over N processes (source addresses 127.0.0.x on loopback)', '1')
      .option('--shard <i/n>', 'run part i (0-based) of n and write it to --part for sse-doctor merge')
      .option('--part <file>', 'where --shard writes its part (default sse-doctor-part-<i>-of-<n>.json)')
      .option('--threshold <expr...>', "CI gate, e.g. 'p95(firstEvent)<500ms' 'rate429<0.05' (a missed one exits 1)")
      .option('--html <file>', 'also write a self-contained HTML report with charts'),
  ).action(async (flags: LoadFlags) => {
    const target = targetFromFlags(flags, context);
    const plan = Object.freeze<LoadPlan>({
      target,
      mode: flags.tokenSpam ? 'token-spam' : 'streams',
      arrival: parseArrival(flags),
      durationMs: positiveDuration(flags.duration, '--duration'),
      rampMs: parseDurationMs(flags.ramp, '--ramp'),
      maxRequests: flags.maxRequests === undefined ? undefined : positiveInteger(flags.maxRequests, '--max-requests'),
      ids: flags.ids === undefined ? undefined : readIds(flags.ids),
      client: flags.clientModel === undefined ? parseClient(flags.client) : await readClientModelFile(flags.clientModel),
      sourceNetwork: loopbackSourceNetwork(target, 0),
    });
    if (plan.mode === 'token-spam' && (target.streamUrl !== undefined || !target.profile.usesTokens)) {
      throw new UsageError('--token-spam: needs a profile with a token endpoint (not --url or --profile generic)');
    }
    const workers = positiveInteger(flags.workers, '--workers');
    if (workers > MAX_WORKERS) throw new UsageError(`--workers: at most ${MAX_WORKERS}`);
    const { parseThreshold } = await import('../load/thresholds.js');
    const thresholds = (flags.threshold ?? []).map(parseThreshold);
    const { load } = await import('../commands/load.js');
    setExitCode(
      await load(
        Object.freeze({
          plan,
          workers,
          shard: flags.shard === undefined ? undefined : parseShard(flags.shard),
          partFile: flags.part,
          thresholds,
          json: flags.json === true,
          htmlFile: flags.html,
          color: context.colorStdout,
        }),
        { stdout: context.stdout, stderr: context.stderr, stderrIsTty: (context.stderr as { isTTY?: boolean }).isTTY === true, signal: context.signal },
      ),
    );
  });
}

function parseArrival(flags: LoadFlags): Arrival {
  if (flags.clients !== undefined && flags.rate !== undefined) throw new UsageError('give either --clients (closed model) or --rate (open model), not both');
  if (flags.rate !== undefined) {
    const match = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(flags.rate.trim());
    const rate = match ? Number(match[1]) : NaN;
    if (!(rate > 0)) throw new UsageError(`--rate: "${flags.rate}" is not a rate (expected e.g. 50/s)`);
    return { kind: 'open', ratePerSecond: rate };
  }
  return { kind: 'closed', clients: flags.clients === undefined ? DEFAULT_CLIENTS : positiveInteger(flags.clients, '--clients') };
}

/** `i/n`, 0-based: `--shard $JOB_COMPLETION_INDEX/4` in a Kubernetes Indexed Job. */
export function parseShard(raw: string): { index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(raw.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index >= count) throw new UsageError(`--shard: "${raw}" is not i/n with 0 <= i < n (e.g. 0/4)`);
  return { index, count };
}

async function readClientModelFile(file: string) {
  const { readClientModel } = await import('../analyze/clientModel.js');
  return readClientModel(file);
}

function parseClient(raw: string): ClientModelName {
  if (!(CLIENT_MODELS as readonly string[]).includes(raw)) throw new UsageError(`--client: unknown client model "${raw}" (expected ${CLIENT_MODELS.join(', ')})`);
  return raw as ClientModelName;
}

function positiveInteger(raw: string, where: string): number {
  const value = parseNonNegativeInteger(raw, where);
  if (value < 1) throw new UsageError(`${where}: must be at least 1`);
  return value;
}

function positiveDuration(raw: string, where: string): number {
  const value = parseDurationMs(raw, where);
  if (value <= 0) throw new UsageError(`${where}: must be longer than 0`);
  return value;
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
