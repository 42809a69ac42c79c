import { writeFileSync } from 'node:fs';
import { Chalk } from 'chalk';
import { EXIT_CODES, UnreachableError, UsageError } from '../errors.js';
import { openFilesLimit, socketLimitWarning } from '../load/fileLimit.js';
import type { LoadPart } from '../load/part.js';
import { planShare, type LoadPlan } from '../load/plan.js';
import { buildLoadReport, type LoadReport } from '../load/report.js';
import { runLoad } from '../load/runner.js';
import type { Threshold } from '../load/thresholds.js';
import { Ticker } from '../load/ticker.js';
import { loadHtml } from '../reporters/loadHtml.js';
import { loadJson } from '../reporters/loadJson.js';
import { loadTable } from '../reporters/loadTable.js';

/** How a load report is shown; shared by `load` and `merge`. */
export interface LoadOutputOptions {
  readonly thresholds: readonly Threshold[];
  readonly json: boolean;
  /** Also write the self-contained HTML page here. */
  readonly htmlFile: string | undefined;
  readonly color: boolean;
}

export interface LoadOptions extends LoadOutputOptions {
  readonly plan: LoadPlan;
  /** Processes to spread the clients over (1: this one). */
  readonly workers: number;
  /** Run only part `index` of `count` and write it to `partFile` for `sse-doctor merge`. */
  readonly shard: { readonly index: number; readonly count: number } | undefined;
  readonly partFile: string | undefined;
}

export interface LoadIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Draw the live ticker in place (stderr is a terminal). */
  readonly stderrIsTty: boolean;
  readonly signal?: AbortSignal;
}

/**
 * `sse-doctor load`: many virtual clients at once (or this shard's share of them), measured in
 * mergeable histograms; exit 1 when a threshold is missed.
 */
export async function load(options: LoadOptions, io: LoadIo): Promise<number> {
  const plan = options.shard ? planShare(options.plan, options.shard.index, options.shard.count) : options.plan;
  if (plan.arrival.kind === 'closed') {
    const warning = socketLimitWarning(plan.arrival.clients, options.workers, openFilesLimit());
    if (warning !== undefined) io.stderr.write(`load: warning: ${warning}\n`);
  }
  const ticker = new Ticker(io.stderr, io.stderrIsTty, plan.durationMs);
  const run = { signal: io.signal, onSecond: (snapshot: Parameters<Ticker['update']>[0]) => ticker.update(snapshot) };
  let part: LoadPart;
  try {
    if (options.workers > 1) {
      const { runWorkers } = await import('../load/workers.js');
      part = await runWorkers(plan, options.workers, run);
    } else {
      part = await runLoad(plan, run);
    }
  } finally {
    ticker.done();
  }
  if (options.shard) {
    part = { ...part, shard: options.shard, shardsMerged: [options.shard.index] };
    const file = options.partFile ?? `sse-doctor-part-${options.shard.index}-of-${options.shard.count}.json`;
    writeFileSync(file, JSON.stringify(part));
    io.stderr.write(`load: wrote shard ${options.shard.index}/${options.shard.count} to ${file} (combine the parts with: sse-doctor merge <files>)\n`);
  }
  if (neverAnswered(part)) {
    throw new UnreachableError(`${part.settings.target}: unreachable (${Object.keys(part.errors).join(', ')}); is the server running and the URL right?`);
  }
  const exitCode = writeLoadReport(buildLoadReport(part, options.thresholds), options, io);
  if (io.signal?.aborted) {
    io.stderr.write('load: interrupted; the report covers what ran\n');
    return EXIT_CODES.interrupted;
  }
  return exitCode;
}

/** Prints the report (table or JSON), writes the HTML page, and returns the exit code. */
export function writeLoadReport(report: LoadReport, options: LoadOutputOptions, io: Pick<LoadIo, 'stdout' | 'stderr'>): number {
  io.stdout.write(options.json ? loadJson(report) : loadTable(report, new Chalk({ level: options.color ? 1 : 0 })));
  if (options.htmlFile !== undefined) {
    try {
      writeFileSync(options.htmlFile, loadHtml(report));
    } catch (error) {
      throw new UsageError(`--html: cannot write ${options.htmlFile} (${(error as Error).message})`, { cause: error });
    }
    if (!options.json) io.stderr.write(`load: report page written to ${options.htmlFile}\n`);
  }
  return report.verdict === 'pass' ? EXIT_CODES.ok : EXIT_CODES.findings;
}

/** Nothing but connection failures: the target is not there, which is the tool's trouble, not a finding. */
function neverAnswered(part: LoadPart): boolean {
  const answers = [part.responses.create, part.responses.token, part.responses.stream].reduce((sum, byStatus) => sum + Object.keys(byStatus).length, 0);
  return answers === 0 && Object.keys(part.errors).some((kind) => kind.endsWith('unreachable'));
}
