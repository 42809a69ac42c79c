import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { AnalyzeReport } from '../src/analyze/read.js';
import { analyzeJson } from './helpers/analyzeRun.js';
import { runCli } from './helpers/cli.js';

// The seeds' own log excerpts, copied byte for byte (seed 002's `(√ó10)` is a × in the wrong encoding).
const corpus = (name: string) => join(import.meta.dirname, 'corpora', name);
const BIN = join(import.meta.dirname, '..', 'bin', 'sse-doctor.js');


describe('analyze on the seeds’ log excerpts', () => {
  it('seed 000: a storm at the rate its own hints give, and the silent 200 for a generation that is over', async () => {
    const { code, report } = await analyzeJson(corpus('seed-000.log'));
    expect(code).toBe(1);
    expect(report.files[0]).toMatchObject({ format: 'applog', unreadable: 0 });
    const ids = report.findings.map((finding) => finding.id);
    expect(ids).toEqual(expect.arrayContaining(['retry-storm', 'terminal-stream-200', 'too-many-retries']));
    // "closed (< 5ms later)", "New token requested (212ms later)": a cycle of two requests every 217 ms.
    const storm = report.figures.storms[0]!;
    expect(storm.requests).toBeGreaterThan(1900);
    expect(storm.perSecond).toBeCloseTo(2 / 0.217, 0);
    const silent = report.findings.find((finding) => finding.id === 'terminal-stream-200')!;
    expect(silent.layer).toBe('backend');
    expect(silent.evidence[0]).toMatchObject({ file: 'seed-000.log', line: 1 });
  });

  it('seed 002: retries after the 400s (more than the policy allows, but no storm), the stream without its token, unreadable lines counted', async () => {
    const { code, report } = await analyzeJson(corpus('seed-002.log'));
    expect(code).toBe(1);
    expect(report.files[0]).toMatchObject({ format: 'applog', unreadable: 2, unreadableLines: [2, 4] });
    const byId = new Map(report.findings.map((finding) => [finding.id, finding]));
    expect([...byId.keys()].sort()).toEqual(['retry-after-terminal', 'stream-without-token', 'too-many-retries']);
    // Ten 400s and the 429: every token request after the first 400 (and the first, after the 422 of a failed generation).
    expect(byId.get('retry-after-terminal')!.occurrences).toBe(11);
    expect(byId.get('stream-without-token')!.evidence[0]).toMatchObject({ line: 5, text: 'GET /generations/generate/{id}/stream → 422 (no token in the query)' });
    expect(report.figures.tokenRequests).toBe(11);
    expect(report.figures.rate429).toBeCloseTo(1 / 11, 3);
  });

  it('reads standard input with -, also when it comes in pieces with pauses between them', async () => {
    const child = spawn(process.execPath, [BIN, 'analyze', '--json', '-'], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    // The reading thread finds the pipe empty at first and between the pieces; a line is split across two.
    await delay(300);
    child.stdin.write('16:15:17 - SSE stream started\n16:15:17 - SSE str');
    await delay(300);
    child.stdin.end('eam closed  (IMMEDIATE)\n');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as AnalyzeReport).files[0]).toMatchObject({ file: 'stdin', format: 'applog', lines: 2, records: 1, unreadable: 0 });
  });

  it('reads standard input that is a non-blocking pipe (as a parent that shares its own may leave it), waiting for it when it is empty', async () => {
    // Python makes the pipe non-blocking before the CLI starts: an empty read then fails with EAGAIN instead of waiting.
    const script = [
      'import fcntl, os, subprocess, sys, time',
      'r, w = os.pipe()',
      'fcntl.fcntl(r, fcntl.F_SETFL, fcntl.fcntl(r, fcntl.F_GETFL) | os.O_NONBLOCK)',
      'child = subprocess.Popen([sys.argv[1], sys.argv[2], "analyze", "--json", "-"], stdin=r, stdout=subprocess.PIPE)',
      'os.close(r)',
      'time.sleep(0.3)',
      'os.write(w, b"16:15:17 - SSE stream started\\n16:15:17 - SSE str")',
      'time.sleep(0.3)',
      'os.write(w, b"eam closed  (IMMEDIATE)\\n")',
      'os.close(w)',
      'sys.stdout.write(child.communicate()[0].decode())',
      'sys.exit(child.returncode)',
    ].join('\n');
    const child = spawn('/usr/bin/python3', ['-c', script, process.execPath, BIN], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as AnalyzeReport).files[0]).toMatchObject({ file: 'stdin', format: 'applog', lines: 2, records: 1, unreadable: 0 });
  });

  it('a file it cannot read, or whose format it cannot tell, is one line and exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sse-doctor-analyze-'));
    const missing = await runCli(['analyze', join(dir, 'nope.log')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('cannot read');
    const garbage = join(dir, 'garbage.bin');
    writeFileSync(garbage, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
    const unknown = await runCli(['analyze', garbage]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^sse-doctor: analyze: cannot tell the format of .*garbage\.bin .*--format\n$/);
    const badHar = join(dir, 'bad.har');
    writeFileSync(badHar, '{\n  "log": {\n');
    const broken = await runCli(['analyze', badHar]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('is not a readable HAR');
  });
});
