import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * The analyze figure's three parts, each in a process of its own so its peak RSS is its own:
 *   write FILE LINES   an nginx `combined` log with `rt=` of a fixed population (2,000 clients,
 *                      one generation each, some storming into 429s), 500 lines per second of log time;
 *   tool FILE          `analyze`'s reader and analyzer over it;
 *   raw FILE           the baseline: a readline loop with one regular expression per line.
 * Prints one JSON line: lines, wall ms, peak RSS (KiB).
 */
const [mode, file, linesArg] = process.argv.slice(2) as [string, string, string | undefined];
const CLIENTS = 2000;
const LINES_PER_SECOND = 500;
const BASELINE = /^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d{3}) (\d+)/;

async function write(lines: number): Promise<void> {
  const out = createWriteStream(file);
  const start = Date.UTC(2025, 9, 16, 16, 0, 0);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  let chunk = '';
  for (let i = 0; i < lines; i++) {
    const client = i % CLIENTS;
    const at = new Date(start + Math.floor((i * 1000) / LINES_PER_SECOND));
    const stamp = `${pad(at.getUTCDate())}/${months[at.getUTCMonth()]}/${at.getUTCFullYear()}:${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())} +0000`;
    const id = `0c9055c8-b6fa-4b5e-bf5e-${String(client).padStart(12, '0')}`;
    const round = Math.floor(i / CLIENTS);
    const storming = client % 10 === 0;
    const request = round % 2 === 0 ? `POST /api/generations/generate/${id}/stream-token HTTP/1.1` : `GET /api/generations/generate/${id}/stream?token=t${round} HTTP/1.1`;
    const status = round % 2 === 0 && storming && round > 20 ? 429 : 200;
    const rt = round % 2 === 0 ? '0.004' : storming ? '0.003' : '30.012';
    chunk += `10.0.${client >> 8}.${client & 255} - - [${stamp}] "${request}" ${status} ${status === 200 ? 265 : 97} "-" "Mozilla/5.0" rt=${rt} urt=${rt}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      chunk = '';
    }
  }
  out.end(chunk);
  await new Promise<void>((resolve) => out.once('finish', () => resolve()));
}

/** analyze's modules, loaded only in the tool's process: the baseline's process loads none of them. */
const loadAnalyze = () => Promise.all([import('../src/analyze/analyzer.js'), import('../src/analyze/readThread.js'), import('../src/options/profiles.js')]);

async function tool([{ Analyzer }, { readFiles }, { BUILTIN_PROFILES }]: Awaited<ReturnType<typeof loadAnalyze>>): Promise<number> {
  const profile = BUILTIN_PROFILES.generations;
  const analyzer = new Analyzer(profile);
  const [report] = await readFiles([file], analyzer, { format: undefined, jsonFields: {}, terminal: profile.terminal });
  analyzer.finish();
  return report!.lines;
}

async function raw(): Promise<number> {
  let lines = 0;
  let matched = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    lines++;
    if (BASELINE.test(line)) matched++;
  }
  if (matched !== lines) throw new Error(`baseline matched ${matched} of ${lines} lines`);
  return lines;
}

// Loaded before the clock starts: neither side's figure holds loading modules.
const analyze = mode === 'tool' ? await loadAnalyze() : undefined;
const started = performance.now();
const lines = mode === 'write' ? (await write(Number(linesArg)), Number(linesArg)) : analyze !== undefined ? await tool(analyze) : await raw();
process.stdout.write(`${JSON.stringify({ lines, wallMs: performance.now() - started, maxRssKiB: process.resourceUsage().maxRSS })}\n`);
