import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProbeResult, ProbeTask } from './probe.js';

/**
 * `npm run bench`: sse-doctor's load engine against a raw baseline (undici `request()` +
 * eventsource-parser, no bookkeeping), measured in the same run against `serve` (and a tiny
 * blasting server for the one-fast-stream figure), each figure the median of several runs.
 * `--quick`: one run each at small sizes, to check the bench itself works; `--runs N`: N runs per
 * figure; `--only a,b`: only those figures.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = `${ROOT}bin/sse-doctor.js`;
const PROBE = fileURLToPath(new URL('./probe.js', import.meta.url));
const BLASTER = fileURLToPath(new URL('./blaster.js', import.meta.url));
const ANALYZE_LOG = fileURLToPath(new URL('./analyzeLog.js', import.meta.url));
const PEAK_RSS = fileURLToPath(new URL('./peakRss.js', import.meta.url));

const quick = process.argv.includes('--quick');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : quick ? 1 : 3;
const onlyArg = process.argv.indexOf('--only');
/** `--only peak,slow`: just those figures (hold, peak, big, workers, slow, fast, spam, startup, analyze). */
const ONLY = onlyArg > 0 ? new Set((process.argv[onlyArg + 1] ?? '').split(',')) : undefined;
const wanted = (figure: string) => ONLY === undefined || ONLY.has(figure);
const SIZES = quick
  ? { hold: 1000, big: 0, workers: 0, slowClients: 200, seconds: 3000, logLines: 200_000 }
  : { hold: 10_000, big: 19_500, workers: 38_000, slowClients: 2000, seconds: 8000, logLines: 2_000_000 };

interface Row {
  figure: string;
  goal: string;
  tool: string;
  raw: string;
  verdict: string;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? NaN : sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const fmt = (n: number | undefined, digits = 0) => (n === undefined || Number.isNaN(n) ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits }));
const mark = (ok: boolean | undefined) => (ok === undefined ? '?' : ok ? 'met' : 'MISSED');

/** A server in its own process; its first stdout line holds its URL. Killed by PID. */
async function startServer(args: string[]): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    // A minute: a machine busy with other work can take that long to start a server with workers.
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')}: no URL on stdout within 60 s`)), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /https?:\/\/\S+/.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match[0].replace(/\/$/, ''));
      }
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code})`)));
  });
  child.stdout?.resume();
  return { url, child };
}

function stopServer(server: { child: ChildProcess }): Promise<void> {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve();
    server.child.once('exit', () => resolve());
    server.child.kill('SIGKILL');
  });
}

/** The reference server, timed for the figure at hand. */
function serve(timings: { generationMs: number; heartbeatMs: number }, workers?: number) {
  return startServer([
    BIN, 'serve', '--port', '0',
    '--generation', `${timings.generationMs}ms`,
    '--heartbeat', `${timings.heartbeatMs}ms`,
    '--stream-max', `${timings.generationMs + 60_000}ms`,
    '--rate-limit', '1000000',
    ...(workers ? ['--workers', String(workers)] : []),
  ]);
}

function probe(task: ProbeTask): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', PROBE, JSON.stringify(task)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as ProbeResult);
      } catch {
        reject(new Error(`probe ${task.kind} exited ${code} without a result`));
      }
    });
  });
}

/** Runs tool and raw alternately, each against a fresh server. */
async function paired(
  server: () => Promise<{ url: string; child: ChildProcess }>,
  tasks: (url: string) => [ProbeTask, ProbeTask],
  runs = RUNS,
): Promise<{ tool: ProbeResult[]; raw: ProbeResult[] }> {
  const tool: ProbeResult[] = [];
  const raw: ProbeResult[] = [];
  for (let run = 0; run < runs; run++) {
    for (const which of ['tool', 'raw'] as const) {
      const target = await server();
      try {
        const [toolTask, rawTask] = tasks(target.url);
        (which === 'tool' ? tool : raw).push(await probe(which === 'tool' ? toolTask : rawTask));
      } finally {
        await stopServer(target);
      }
    }
  }
  return { tool, raw };
}

const log = (text: string) => process.stderr.write(`bench: ${text}\n`);
const rows: Row[] = [];
/** Each row is also logged as it lands: a bench that fails later (a server too slow to start on a busy machine) still leaves what it measured. */
const addRows = (...added: Row[]) => {
  rows.push(...added);
  for (const row of added) log(`${row.figure}: ${row.tool} vs ${row.raw}${row.verdict ? ` (${row.verdict})` : ''}`);
};
const started = performance.now();

// 1. N concurrent streams from one process: the time to open all at once, and RSS per open stream
// read two ways. The goal's figure is what each stream adds as the count grows: half the streams
// open and settle, then the other half, and RSS growth over the second half is divided by it.
// Growth from the process's start over N streams opened at once is shown too: it also charges the
// streams with what the process pays once (a young generation grown to full size, compiled code).
const HALF = SIZES.hold / 2;
const holdTimings = { generationMs: 600_000, heartbeatMs: 2000 };
const openMs = (results: ProbeResult[]) => median(results.map((r) => (r.opened ?? 0) >= SIZES.hold ? (r.openMs ?? NaN) : Infinity));
const rss = (results: ProbeResult[]) => median(results.map((r) => r.rssPerStreamKiB ?? NaN));
const marginalRss = (results: ProbeResult[]) => median(results.map((r) => r.marginalRssPerStreamKiB ?? NaN));
type Paired = { tool: ProbeResult[]; raw: ProbeResult[] };

/** Streams of one kind (`streamUrl`: opened directly, as `load --url`), at once and then in two halves. */
async function holdFigures(what: string, streamUrl: (url: string) => string | undefined): Promise<{ atOnce: Paired; rows: Row[] }> {
  const tasks = (streams: number, extraStreams?: number) => (url: string): [ProbeTask, ProbeTask] => {
    const task = { baseUrl: url, streamUrl: streamUrl(url), streams, extraStreams, rampMs: 0, timeoutMs: 30_000 };
    return [{ kind: 'tool-hold', ...task }, { kind: 'raw-hold', ...task }];
  };
  log(`${what}: ${SIZES.hold} streams at once, ${RUNS} run(s) each`);
  const atOnce = await paired(() => serve(holdTimings), tasks(SIZES.hold));
  log(`${what}: ${HALF} streams, then ${HALF} more, ${RUNS} run(s) each`);
  const inHalves = await paired(() => serve(holdTimings), tasks(HALF, HALF));
  const rows: Row[] = [
    {
      figure: `RSS per open stream, ${what}: ${fmt(HALF)} -> ${fmt(SIZES.hold)} open`,
      goal: '<= 16 KiB',
      tool: `${fmt(marginalRss(inHalves.tool), 1)} KiB`,
      raw: `${fmt(marginalRss(inHalves.raw), 1)} KiB`,
      verdict: mark(marginalRss(inHalves.tool) <= 16),
    },
    {
      figure: `RSS per open stream, ${what}: ${fmt(SIZES.hold)} from the start`,
      goal: '(fixed costs too)',
      tool: `${fmt(rss(atOnce.tool), 1)} KiB`,
      raw: `${fmt(rss(atOnce.raw), 1)} KiB`,
      verdict: '',
    },
  ];
  return { atOnce, rows };
}

if (wanted('hold')) {
  const fullFlow = await holdFigures('full flow', () => undefined);
  addRows(
    { figure: `${fmt(SIZES.hold)} streams opened in`, goal: '< 5 s', tool: `${fmt(openMs(fullFlow.atOnce.tool) / 1000, 2)} s`, raw: `${fmt(openMs(fullFlow.atOnce.raw) / 1000, 2)} s`, verdict: mark(openMs(fullFlow.atOnce.tool) < 5000) },
    ...fullFlow.rows,
  );
  // 1b. The same, streams only (`load --url`): no create or token request behind each stream.
  addRows(...(await holdFigures('--url', (url) => `${url}/generic/stream?chunks=10000&intervalMs=2000`)).rows);
}

// 1c. The peak, as users meet it (and as an out-of-memory kill does): `load --url` run as the CLI,
// its process's maximum resident set over the whole run (ramp, events, the end and the report),
// against the baseline client holding as many streams for as long. What one stream adds to the
// peak: (peak at the large count - peak at the small one) / the difference in streams.
// Long enough for every stream to open and run a while even on a machine busy with other work.
const PEAK = { small: 100, large: SIZES.hold, durationMs: quick ? 5000 : 30_000 };
const PEAK_STREAM_PATH = '/generic/stream?chunks=10000&intervalMs=1000';

/** A process started with `peakRss.ts` in front: its stdout and its maximum resident set. */
function measurePeak(args: string[]): Promise<{ stdout: string; maxRssKiB: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', PEAK_RSS, ...args], { stdio: ['ignore', 'pipe', 'ignore', 'pipe'] });
    let stdout = '';
    let peak = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stdio[3]?.on('data', (chunk: Buffer) => (peak += chunk.toString()));
    child.once('close', (code) => {
      try {
        resolve({ stdout, maxRssKiB: (JSON.parse(peak) as { maxRssKiB: number }).maxRssKiB });
      } catch {
        reject(new Error(`${args[0]} exited ${code} without its peak RSS`));
      }
    });
  });
}

async function peakFigures(): Promise<Row[]> {
  log(`peak RSS: load --url and the baseline, ${PEAK.small} and ${PEAK.large} streams for ${PEAK.durationMs / 1000} s, ${RUNS} run(s) each`);
  const peaks = { tool: new Map<number, number[]>(), raw: new Map<number, number[]>() };
  const opened = { tool: [] as number[], raw: [] as number[] };
  for (let run = 0; run < RUNS; run++) {
    for (const streams of [PEAK.small, PEAK.large]) {
      for (const which of ['tool', 'raw'] as const) {
        const target = await serve(holdTimings);
        try {
          const url = `${target.url}${PEAK_STREAM_PATH}`;
          const measured =
            which === 'tool'
              ? await measurePeak([BIN, 'load', '--url', url, '--clients', String(streams), '--duration', `${PEAK.durationMs}ms`, '--json'])
              : await measurePeak([PROBE, JSON.stringify({ kind: 'raw-peak', url, streams, durationMs: PEAK.durationMs } satisfies ProbeTask)]);
          if (streams === PEAK.large) {
            const lastLine = measured.stdout.trim().split('\n').pop() ?? '{}';
            opened[which].push(which === 'tool' ? (JSON.parse(measured.stdout) as { metrics: { peakOpenStreams: number } }).metrics.peakOpenStreams : ((JSON.parse(lastLine) as ProbeResult).opened ?? 0));
          }
          peaks[which].set(streams, [...(peaks[which].get(streams) ?? []), measured.maxRssKiB]);
        } finally {
          await stopServer(target);
        }
      }
    }
  }
  const peakKiB = (which: 'tool' | 'raw', streams: number) => median(peaks[which].get(streams) ?? []);
  const perStream = (which: 'tool' | 'raw') => (peakKiB(which, PEAK.large) - peakKiB(which, PEAK.small)) / (PEAK.large - PEAK.small);
  const ratio = perStream('tool') / perStream('raw');
  return [
    {
      figure: `peak RSS per stream, load --url: ${fmt(PEAK.small)} -> ${fmt(PEAK.large)} streams`,
      goal: '<= raw',
      tool: `${fmt(perStream('tool'), 1)} KiB`,
      raw: `${fmt(perStream('raw'), 1)} KiB`,
      verdict: `${fmt(ratio, 2)} x ${mark(ratio <= 1)}`,
    },
    {
      figure: `peak RSS, load --url: ${fmt(PEAK.small)} / ${fmt(PEAK.large)} streams (opened)`,
      goal: `${fmt(PEAK.large)} open`,
      tool: `${fmt(peakKiB('tool', PEAK.small) / 1024)} / ${fmt(peakKiB('tool', PEAK.large) / 1024)} MiB (${fmt(median(opened.tool))})`,
      raw: `${fmt(peakKiB('raw', PEAK.small) / 1024)} / ${fmt(peakKiB('raw', PEAK.large) / 1024)} MiB (${fmt(median(opened.raw))})`,
      verdict: mark(median(opened.tool) >= PEAK.large),
    },
  ];
}
if (wanted('peak')) addRows(...(await peakFigures()));

// 2. 19,500 from one process (the file-descriptor limit is about 20,000).
if (SIZES.big > 0 && wanted('big')) {
  log(`${SIZES.big} concurrent streams from one process`);
  const big = await paired(
    () => serve(holdTimings),
    (url) => [
      { kind: 'tool-hold', baseUrl: url, streams: SIZES.big, rampMs: 2000, timeoutMs: 30_000 },
      { kind: 'raw-hold', baseUrl: url, streams: SIZES.big, rampMs: 2000, timeoutMs: 30_000 },
    ],
    // The heaviest figure: two runs keep the whole bench near ten minutes.
    Math.min(RUNS, 2),
  );
  const opened = (results: ProbeResult[]) => median(results.map((r) => r.opened ?? 0));
  addRows({ figure: 'streams held by one process', goal: fmt(SIZES.big), tool: fmt(opened(big.tool)), raw: fmt(opened(big.raw)), verdict: mark(opened(big.tool) >= SIZES.big) });
}

// 3. 38,000 with --workers 2: the server must hold them too.
if (SIZES.workers > 0 && wanted('workers')) {
  const serveHelp = spawnSync(process.execPath, [BIN, 'serve', '--help'], { encoding: 'utf8' }).stdout;
  if (!serveHelp.includes('--workers')) {
    addRows({ figure: 'streams with --workers 2', goal: fmt(SIZES.workers), tool: 'not measured', raw: '', verdict: 'serve needs --workers (one process holds < 20,000 sockets)' });
  } else {
    log(`${SIZES.workers} concurrent streams with --workers 2`);
    const results: ProbeResult[] = [];
    for (let run = 0; run < RUNS; run++) {
      const target = await serve(holdTimings, 3);
      try {
        results.push(await probe({ kind: 'tool-hold', baseUrl: target.url, streams: SIZES.workers, rampMs: 5000, timeoutMs: 60_000, workers: 2 }));
      } finally {
        await stopServer(target);
      }
    }
    const opened = median(results.map((r) => r.opened ?? 0));
    addRows({ figure: 'streams with --workers 2', goal: fmt(SIZES.workers), tool: fmt(opened), raw: '', verdict: mark(opened >= SIZES.workers) });
  }
}

/** The slow streams' first seconds (every client connecting at once, the JIT warming up) are left out of the count. */
const SLOW_WARMUP_MS = 2000;

// 4. Many slow streams (serve's generic stream: 100 events 50 ms apart, then the next stream):
// events per CPU-second of the client process, after the warm-up.
if (wanted('slow')) {
  log(`${SIZES.slowClients} slow streams for ${SIZES.seconds / 1000} s, ${quick ? 1 : RUNS + 2} run(s) each`);
  const slow = await paired(
    () => serve({ generationMs: 8000, heartbeatMs: 2000 }),
    (url) => {
      const streamUrl = `${url}/generic/stream?chunks=100&intervalMs=50`;
      return [
        { kind: 'tool-slow', url: streamUrl, clients: SIZES.slowClients, durationMs: SLOW_WARMUP_MS + SIZES.seconds, warmupMs: SLOW_WARMUP_MS },
        { kind: 'raw-slow', url: streamUrl, clients: SIZES.slowClients, durationMs: SLOW_WARMUP_MS + SIZES.seconds, warmupMs: SLOW_WARMUP_MS },
      ];
    },
    // CPU time per event varies by several percent from run to run here: more runs steady the median.
    quick ? 1 : RUNS + 2,
  );
  const perCore = (results: ProbeResult[]) => median(results.map((r) => ((r.events ?? 0) * 1000) / r.cpuMs));
  const slowRatio = perCore(slow.tool) / perCore(slow.raw);
  addRows({ figure: 'slow streams: events per CPU-second', goal: '>= 0.85 x raw', tool: fmt(perCore(slow.tool)), raw: fmt(perCore(slow.raw)), verdict: `${fmt(slowRatio, 2)} x ${mark(slowRatio >= 0.85)}` });
}

// 5. One fast stream with full bookkeeping.
if (wanted('fast')) {
  log('one fast stream');
  const fast = await paired(
    () => startServer([BLASTER]),
    (url) => [
      { kind: 'tool-fast', url, durationMs: SIZES.seconds / 2 },
      { kind: 'raw-fast', url, durationMs: SIZES.seconds / 2 },
    ],
  );
  const eventsPerSecond = (results: ProbeResult[]) => median(results.map((r) => ((r.events ?? 0) * 1000) / r.wallMs));
  addRows({ figure: 'one fast stream: events/s', goal: '>= 1,500,000', tool: fmt(eventsPerSecond(fast.tool)), raw: fmt(eventsPerSecond(fast.raw)), verdict: mark(eventsPerSecond(fast.tool) >= 1_500_000) });
}

// 6. Token spam against an undici Pool loop.
if (wanted('spam')) {
  log('token spam');
  const spam = await paired(
    () => serve({ generationMs: 600_000, heartbeatMs: 2000 }),
    (url) => [
      { kind: 'tool-spam', baseUrl: url, connections: 64, durationMs: SIZES.seconds / 2 },
      { kind: 'raw-spam', baseUrl: url, connections: 64, durationMs: SIZES.seconds / 2 },
    ],
  );
  const requestsPerSecond = (results: ProbeResult[]) => median(results.map((r) => ((r.requests ?? 0) * 1000) / r.wallMs));
  const spamRatio = requestsPerSecond(spam.tool) / requestsPerSecond(spam.raw);
  addRows({ figure: 'token spam: requests/s', goal: '>= 0.9 x Pool loop', tool: fmt(requestsPerSecond(spam.tool)), raw: fmt(requestsPerSecond(spam.raw)), verdict: `${fmt(spamRatio, 2)} x ${mark(spamRatio >= 0.9)}` });
}

// 7. Startup: --help against an empty node.
if (wanted('startup')) {
  log('startup');
  const time = (args: string[]) => {
    const t = performance.now();
    spawnSync(process.execPath, args, { stdio: 'ignore' });
    return performance.now() - t;
  };
  const helpMs: number[] = [];
  const nodeMs: number[] = [];
  for (let run = 0; run < Math.max(5, RUNS * 5); run++) {
    nodeMs.push(time(['-e', '0']));
    helpMs.push(time([BIN, '--help']));
  }
  const startupRatio = median(helpMs) / median(nodeMs);
  addRows({ figure: 'sse-doctor --help startup', goal: '< 2 x node -e 0', tool: `${fmt(median(helpMs))} ms`, raw: `${fmt(median(nodeMs))} ms`, verdict: `${fmt(startupRatio, 2)} x ${mark(startupRatio < 2)}` });
}

// 8. analyze on an nginx access log against a readline loop with one regular expression per line,
// alternately, each in a process of its own; then on a log twice as long, for its peak RSS.
if (wanted('analyze')) {
  log(`analyze: nginx logs of ${fmt(SIZES.logLines)} and ${fmt(2 * SIZES.logLines)} lines, ${RUNS} run(s) each`);
  const logDir = mkdtempSync(join(tmpdir(), 'sse-doctor-bench-'));
  const logOf = (lines: number) => join(logDir, `access-${lines}.log`);
  const analyzeLog = (args: string[]) => {
    const run = spawnSync(process.execPath, [ANALYZE_LOG, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (run.status !== 0) throw new Error(`analyzeLog ${args.join(' ')}: ${run.stderr}`);
    return JSON.parse(run.stdout.trim()) as { lines: number; wallMs: number; maxRssKiB: number };
  };
  try {
    analyzeLog(['write', logOf(SIZES.logLines), String(SIZES.logLines)]);
    analyzeLog(['write', logOf(2 * SIZES.logLines), String(2 * SIZES.logLines)]);
    const toolRates: number[] = [];
    const rawRates: number[] = [];
    const rss: { small: number[]; large: number[] } = { small: [], large: [] };
    for (let run = 0; run < RUNS; run++) {
      const tool = analyzeLog(['tool', logOf(SIZES.logLines)]);
      toolRates.push((tool.lines * 1000) / tool.wallMs);
      rss.small.push(tool.maxRssKiB);
      const raw = analyzeLog(['raw', logOf(SIZES.logLines)]);
      rawRates.push((raw.lines * 1000) / raw.wallMs);
      rss.large.push(analyzeLog(['tool', logOf(2 * SIZES.logLines)]).maxRssKiB);
    }
    const ratio = median(toolRates) / median(rawRates);
    addRows({ figure: `analyze: nginx log lines/s (${fmt(SIZES.logLines)} lines)`, goal: '>= 0.5 x readline + regex', tool: fmt(median(toolRates)), raw: fmt(median(rawRates)), verdict: `${fmt(ratio, 2)} x ${mark(ratio >= 0.5)}` });
    const growth = median(rss.large) / median(rss.small);
    addRows({
      figure: `analyze: peak RSS, ${fmt(SIZES.logLines)} -> ${fmt(2 * SIZES.logLines)} lines`,
      goal: 'flat (< 1.1 x)',
      tool: `${fmt(median(rss.small) / 1024)} -> ${fmt(median(rss.large) / 1024)} MiB`,
      raw: '',
      verdict: `${fmt(growth, 2)} x ${mark(growth < 1.1)}`,
    });
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
}

const headers: Row = { figure: 'figure', goal: 'goal', tool: 'sse-doctor', raw: 'baseline', verdict: 'verdict' };
const widths = (Object.keys(headers) as (keyof Row)[]).map((key) => Math.max(...[headers, ...rows].map((row) => row[key].length)));
const line = (row: Row) => (Object.keys(headers) as (keyof Row)[]).map((key, i) => row[key].padEnd(widths[i] as number)).join('  ');
process.stdout.write(
  `${line(headers)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n\n` +
    `medians of ${RUNS} run(s)${quick ? '' : ` (${RUNS + 2} for slow streams)`}; baseline = undici request() + eventsource-parser (Pool loop for token spam, node -e 0 for startup); ` +
    `${Math.round((performance.now() - started) / 1000)} s in all\n`,
);
