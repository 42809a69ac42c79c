import { EXIT_CODES, UnreachableError } from '../errors.js';
import { openFilesLimit, socketLimitWarning } from '../load/fileLimit.js';
import { defaultPartFile, type LoadPart } from '../load/part.js';
import { planShare, type LoadPlan } from '../load/plan.js';
import { buildLoadReport, type LoadReport } from '../load/report.js';
import { runLoad } from '../load/runner.js';
import type { Threshold } from '../load/thresholds.js';
import { Ticker } from '../load/ticker.js';
import { describeLoadError } from '../reporters/loadTable.js';
import { reporterFor } from '../reporters/registry.js';
import { FATAL_TRANSPORT_KINDS } from '../engine/connection.js';

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
  /** Writes a report file through the run's redaction. */
  writeFile(path: string, text: string): void;
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
    const file = options.partFile ?? defaultPartFile(options.shard);
    io.writeFile(file, JSON.stringify(part));
    io.stderr.write(`load: wrote shard ${options.shard.index}/${options.shard.count} to ${file} (combine the parts with: sse-doctor merge <files>)\n`);
  }
  const blocked = neverAnswered(part);
  if (blocked !== undefined) throw new UnreachableError(`${part.settings.target}: ${blocked}`);
  const exitCode = writeLoadReport(buildLoadReport(part, options.thresholds), options, io);
  if (io.signal?.aborted) {
    io.stderr.write('load: interrupted; the report covers what ran\n');
    return EXIT_CODES.interrupted;
  }
  return exitCode;
}

/** Prints the report (table or JSON), writes the HTML page, and returns the exit code. */
export function writeLoadReport(report: LoadReport, options: LoadOutputOptions, io: Pick<LoadIo, 'stdout' | 'stderr' | 'writeFile'>): number {
  io.stdout.write(reporterFor('load', options.json ? 'json' : 'pretty', options)(report));
  if (options.htmlFile !== undefined) {
    io.writeFile(options.htmlFile, reporterFor('load', 'html')(report));
    if (!options.json) io.stderr.write(`load: report page written to ${options.htmlFile}\n`);
  }
  return report.verdict === 'pass' ? EXIT_CODES.ok : EXIT_CODES.findings;
}

/** Nothing but connection failures: the target is not there, which is the tool's trouble, not a finding. */
/** Why nothing ever answered (nothing there, TLS or HTTP not spoken as asked), in plain words; undefined when something did. */
function neverAnswered(part: LoadPart): string | undefined {
  const answers = [part.responses.create, part.responses.token, part.responses.stream].reduce((sum, byStatus) => sum + Object.keys(byStatus).length, 0);
  if (answers > 0) return undefined;
  const blocking = Object.keys(part.errors).find((kind) => NEVER_ANSWERED.some((failure) => kind.endsWith(failure)));
  return blocking === undefined ? undefined : describeLoadError(blocking);
}

const NEVER_ANSWERED: readonly string[] = [...FATAL_TRANSPORT_KINDS, 'closed-before-answer'];
