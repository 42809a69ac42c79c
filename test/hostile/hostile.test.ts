import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSchema, schemaErrors } from '../helpers/jsonSchema.js';
import { RAW_CONTROL, probe, type ProbeOptions, type ProbeRun } from './probe.js';
import { SECRETS, startHostile, type HostileKind, type HostileServer } from './servers.js';

/**
 * Issue 11's hostile-server suite: each server does one thing wrong; every command is pointed at
 * it through the BUILT CLI. Each probe asserts the exit code, the one-line message, a bounded
 * time (a hang detector, far above any honest run) and bounded memory (peak RSS of the child),
 * and that no secret and no raw control byte reached the output or a report file.
 */

type Command = 'token' | 'tail' | 'check' | 'replay' | 'load' | 'proxy';

interface Expectation {
  readonly code: number;
  /** Matched against stderr + stdout: the one line that says what blocked the run. */
  readonly says: RegExp;
  /** Flags after the usual ones (a later value wins). */
  readonly extra?: readonly string[];
}

/** One load flow (create, token, stream) and the run ends: what the stream did is counted, however slow the machine. */
const ONE_FLOW = ['--max-requests', '3', '--duration', '60s'];

/**
 * What `proxy --json` logs for the one request sent through it (`fields`, as they appear in its
 * `end` item: the answer it passed on, a 502 when the target cannot be spoken to, and then the
 * `cause` in words), then its summary once stopped. Ctrl-C is how a proxy ends, so it exits 0.
 */
function proxied(fields: string, cause = ''): RegExp {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`"kind":"end",.*${escape(fields)}.*${escape(cause)}[\\s\\S]*"kind":"summary","requests":1,`);
}

/** The probes: what each command must do against each misbehaviour. */
const MATRIX: Partial<Record<HostileKind, Partial<Record<Command, Expectation>>>> = {
  garbage: {
    token: { code: 3, says: /the answer is not HTTP/ },
    tail: { code: 3, says: /the answer is not HTTP/ },
    check: { code: 3, says: /the answer is not HTTP/ },
    replay: { code: 3, says: /the answer is not HTTP/ },
    load: { code: 3, says: /create request: the answer is not HTTP/ },
    proxy: { code: 0, says: proxied('"status":502,"stream":false,"action":"target-unreachable"', ',"cause":"the answer is not HTTP') },
  },
  'tls-to-plain': {
    token: { code: 3, says: /TLS failed: the server does not speak TLS on this port/ },
    tail: { code: 3, says: /does not speak TLS/ },
    check: { code: 3, says: /does not speak TLS/ },
    replay: { code: 3, says: /does not speak TLS/ },
    load: { code: 3, says: /create request: TLS failed/ },
    proxy: { code: 0, says: proxied('"status":502,"stream":false,"action":"target-unreachable"', ',"cause":"TLS failed: the server does not speak TLS on this port') },
  },
  'plain-to-tls': {
    token: { code: 3, says: /closed the connection before a complete HTTP answer.*use https:\/\// },
    tail: { code: 3, says: /closed the connection before a complete HTTP answer/ },
    check: { code: 3, says: /closed the connection before a complete HTTP answer/ },
    replay: { code: 3, says: /closed the connection before/ },
    load: { code: 3, says: /create request: the server closed the connection before a complete HTTP answer/ },
    proxy: { code: 0, says: proxied('"status":502,"stream":false,"action":"target-unreachable"') },
  },
  'self-signed': {
    token: { code: 3, says: /certificate is not trusted.*NODE_EXTRA_CA_CERTS.*--insecure/ },
    tail: { code: 3, says: /certificate is not trusted/ },
    check: { code: 3, says: /certificate is not trusted/ },
    replay: { code: 3, says: /certificate is not trusted/ },
    load: { code: 3, says: /create request: TLS failed: an untrusted certificate/ },
    proxy: { code: 0, says: proxied('"status":502,"stream":false,"action":"target-unreachable"', ',"cause":"TLS failed: the server\'s certificate is not trusted here') },
  },
  'redirect-loop': {
    token: { code: 1, says: /redirects to \/api\/generations\/generate\/g1\/stream-token/ },
    tail: { code: 1, says: /302, a redirect \(sse-doctor follows redirects only with --follow-redirects/ },
    check: { code: 1, says: /answered 302 redirects to/ },
    replay: { code: 2, says: /answered 302 redirects to/ },
    load: { code: 1, says: /create request answered HTTP 302/ },
    proxy: { code: 0, says: proxied('"status":302,"stream":false,"action":"passed"') },
  },
  'header-flood': {
    token: { code: 3, says: /response headers are larger than any HTTP client accepts/ },
    tail: { code: 3, says: /response headers are larger/ },
    check: { code: 3, says: /response headers are larger/ },
    replay: { code: 3, says: /response headers are larger/ },
    load: { code: 3, says: /create request: the answer is not HTTP/ },
    proxy: { code: 0, says: proxied('"status":502,"stream":false,"action":"target-unreachable"', ',"cause":"the response headers are larger than any HTTP client accepts') },
  },
  'mid-headers-close': {
    token: { code: 3, says: /closed the connection before a complete HTTP answer/ },
    tail: { code: 3, says: /closed the connection before/ },
    check: { code: 3, says: /closed the connection before/ },
    load: { code: 3, says: /create request: the server closed the connection before a complete HTTP answer/ },
    proxy: { code: 0, says: proxied('"status":502,"stream":false,"action":"target-unreachable"') },
  },
  'giant-retry': {
    token: { code: 1, says: /Retry-After: 999999999999 s/ },
    tail: { code: 1, says: /asked 999999999999 s, above sse-doctor's bound of 60 min.*past this run's bound/ },
    load: { code: 1, says: /streams opened > 0 \(default\)/ },
    proxy: { code: 0, says: proxied('"status":200,"stream":true,"action":"passed","events":1') },
  },
  'negative-retry-after': {
    token: { code: 1, says: /429 no token/ },
    tail: { code: 1, says: /waiting 60 s \(no usable Retry-After, fallback\)/ },
    proxy: { code: 0, says: proxied('"status":429,"stream":false,"action":"passed"') },
  },
  'bad-token-body': {
    token: { code: 1, says: /answered 200 without a usable token/ },
    tail: { code: 1, says: /answered 200 but sse_token is a number/ },
    proxy: { code: 0, says: proxied('"status":200,"stream":false,"action":"passed"') },
  },
  escapes: {
    token: { code: 0, says: /token issued/ },
    tail: { code: 1, says: /\\x1b\]0;PWNED\\x07\\x1b\[2J/ },
    check: { code: 1, says: /FAIL/ },
    replay: { code: 1, says: /✖/ },
    load: { code: 1, says: /errorRate<=0.05 \(default\)/, extra: ONE_FLOW },
    proxy: { code: 0, says: proxied('"status":200,"stream":true,"action":"passed","events":2') },
  },
  'echo-secrets': {
    token: { code: 0, says: /token issued/ },
    tail: { code: 0, says: /ok: terminal event, clean close/ },
    check: { code: 1, says: /rules:/ },
    replay: { code: 1, says: /failed-generation/ },
    // A server that echoes is otherwise a working one: the run passes, and leaks nothing.
    load: { code: 0, says: /all thresholds held/, extra: ONE_FLOW },
    proxy: { code: 0, says: proxied('"status":200,"stream":true,"action":"passed","events":1') },
  },
  'binary-body': {
    tail: { code: 1, says: /wrong content type "application\/octet-stream": the body is not text\/event-stream: 4\.5 MiB of binary/ },
    check: { code: 1, says: /the body is not text\/event-stream: 4\.5 MiB of binary/ },
    load: { code: 1, says: /stream was not text\/event-stream/, extra: ONE_FLOW },
    proxy: { code: 0, says: proxied('"status":200,"stream":false,"action":"passed","events":0,"bytes":4718592') },
  },
  'binary-stream': {
    tail: { code: 1, says: /the body is not text\/event-stream: 4\.5 MiB of binary \(sent as text\/event-stream\)/ },
    check: { code: 1, says: /the body is not text\/event-stream: 4\.5 MiB of binary/ },
    load: { code: 1, says: /stream body was binary, not events/, extra: ONE_FLOW },
    proxy: { code: 0, says: proxied('"status":200,"stream":true,"action":"passed","events":0,"bytes":4718592') },
  },
  'event-then-close': {
    tail: { code: 1, says: /duration bound reached|past this run's bound/ },
    proxy: { code: 0, says: proxied('"status":200,"stream":true,"action":"passed","events":1') },
  },
};

/** Extra flags per command; tail and replay get a short bound so a probe stays fast. */
function argsFor(command: Command, server: HostileServer, dir: string): string[] {
  const target = ['--base-url', server.baseUrl, '--auth', SECRETS.bearer, '--connect-timeout', '2s', '-H', `X-Api-Key: ${SECRETS.headerBearer}`];
  switch (command) {
    case 'token':
      return ['token', 'g1', ...target];
    case 'tail':
      return ['tail', 'g1', '--max-duration', '4s', ...target];
    case 'check':
      return ['check', '--completed-id', 'g1', '--failed-id', 'g2', '--junit', join(dir, 'check.xml'), ...target];
    case 'replay':
      return ['replay', 'failed-generation', '--client', 'robust', '--max-duration', '4s', ...target];
    case 'load':
      return ['load', '--clients', '2', '--duration', '2s', '--shard', '0/1', '--part', join(dir, 'part.json'), '--html', join(dir, 'load.html'), ...target];
    case 'proxy':
      return ['proxy', '--target', server.baseUrl, '--json'];
  }
}

/** For proxy: one request through it once it prints its URL, then Ctrl-C. */
const throughProxy: ProbeOptions['during'] = async (stdoutSoFar) => {
  let url: string | undefined;
  for (let tries = 0; tries < 100 && url === undefined; tries++) {
    url = /"url":"([^"]+)"/.exec(stdoutSoFar())?.[1];
    if (url === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (url === undefined) return;
  await new Promise<void>((resolve) => {
    const req = request(`${url}/generic/stream`, { headers: { authorization: `Bearer ${SECRETS.bearer}` } }, (res) => {
      res.resume();
      res.on('end', resolve);
      res.on('error', () => resolve());
    });
    req.on('error', () => resolve());
    req.setTimeout(3000, () => req.destroy());
    req.end();
  });
};

/** Hang detector: an honest probe ends in a few seconds; only a run that never ends reaches this. */
const HARD_LIMIT_MS = 60_000;
/** A test also waits for a free probe slot (see `probe`). */
const TEST_TIMEOUT_MS = 400_000;
/** Node alone is ~50 MiB; 300 MiB means output or bodies piled up in memory. */
const MEMORY_LIMIT_MIB = 300;

interface Measured {
  readonly probe: string;
  readonly command: string;
  readonly run: ProbeRun;
}
const measured: Measured[] = [];

/** Everything a probe wrote: stdout, stderr and every report file in its folder. */
function allOutput(run: ProbeRun, dir: string): string {
  const files = readdirSync(dir).map((name) => readFileSync(join(dir, name), 'utf8'));
  return [run.stdout, run.stderr, ...files].join('\n');
}

function assertClean(output: string): void {
  for (const secret of Object.values(SECRETS)) expect(output, `secret ${secret} leaked`).not.toContain(secret);
  // JSON is exact (it escapes controls itself); everything else must show them as \x1b.
  expect(RAW_CONTROL.test(output.replace(/\r?\n|\t/g, ' ')), 'a raw control byte reached the output').toBe(false);
}

describe.concurrent('hostile servers against every command (built CLI)', () => {
  for (const [kind, commands] of Object.entries(MATRIX) as [HostileKind, Partial<Record<Command, Expectation>>][]) {
    for (const [command, expected] of Object.entries(commands) as [Command, Expectation][]) {
      it(`${kind} × ${command}: exit ${expected.code}, says ${expected.says}`, async () => {
        const server = await startHostile(kind);
        const dir = mkdtempSync(join(tmpdir(), `sse-doctor-hostile-${kind}-${command}-`));
        try {
          const run = await probe([...argsFor(command, server, dir), ...(expected.extra ?? [])], {
            hardLimitMs: HARD_LIMIT_MS,
            ...(command === 'proxy' ? { during: throughProxy, interruptAfterMs: 300 } : {}),
          });
          measured.push({ probe: kind, command, run });
          const output = allOutput(run, dir);
          expect(run.killed, `${command} did not end by itself`).toBe(false);
          expect(output).toMatch(expected.says);
          expect(run.code, run.stderr).toBe(expected.code);
          // The tool's own failure is one line, never a stack trace.
          expect(run.stderr).not.toMatch(/\n\s+at /);
          if (run.code >= 2) expect(run.stderr.split('\n').filter((line) => line.startsWith('sse-doctor: '))).toHaveLength(1);
          expect(run.peakMiB).toBeLessThan(MEMORY_LIMIT_MIB);
          assertClean(output);
        } finally {
          await server.close();
        }
      }, TEST_TIMEOUT_MS);
    }
  }

  it('load shorter than its first answer: still exit 3 with the cause, never a race with the run\'s end', async () => {
    const server = await startHostile('garbage');
    try {
      // 1 ms: the run's end comes before the first client starts, or before its first answer could (it used to exit 1, "streams opened 0", or 3 by chance).
      const run = await probe(['load', '--clients', '2', '--duration', '1ms', '--base-url', server.baseUrl, '--auth', SECRETS.bearer]);
      measured.push({ probe: 'garbage (--duration 1ms)', command: 'load', run });
      expect(run.code, run.stderr).toBe(3);
      expect(run.stderr).toMatch(/create request: the answer is not HTTP/);
    } finally {
      await server.close();
    }
  }, TEST_TIMEOUT_MS);

  for (const command of ['token', 'tail', 'check', 'load'] as const) {
    it(`redirect-loop × ${command} --follow-redirects: the loop is bounded, one finding, exit 1`, async () => {
      const server = await startHostile('redirect-loop');
      const dir = mkdtempSync(join(tmpdir(), `sse-doctor-hostile-follow-${command}-`));
      try {
        const run = await probe([...argsFor(command, server, dir), '--follow-redirects'], { hardLimitMs: HARD_LIMIT_MS });
        measured.push({ probe: 'redirect-loop (--follow-redirects)', command, run });
        expect(run.killed).toBe(false);
        expect(run.code, run.stderr).toBe(1);
        expect(allOutput(run, dir)).toMatch(command === 'load' ? /create request answered HTTP 302/ : /a redirect loop: http:\/\/127\.0\.0\.1:\d+\/api\/\S+ -> http/);
        expect(run.peakMiB).toBeLessThan(MEMORY_LIMIT_MIB);
        assertClean(allOutput(run, dir));
      } finally {
        await server.close();
      }
    }, TEST_TIMEOUT_MS);
  }

  it('flood × tail, slow reader: memory stays bounded (backpressure)', async () => {
    const server = await startHostile('flood');
    try {
      const run = await probe(['tail', 'g1', '--max-duration', '5s', '--base-url', server.baseUrl, '--auth', SECRETS.bearer], { slowReader: true, hardLimitMs: HARD_LIMIT_MS });
      measured.push({ probe: 'flood (slow reader)', command: 'tail', run });
      expect(run.killed).toBe(false);
      expect(run.peakMiB).toBeLessThan(200);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await server.close();
    }
  }, TEST_TIMEOUT_MS);

  it('flood × tail | head -1: EPIPE ends the run quietly with 141', async () => {
    const server = await startHostile('flood');
    try {
      const run = await probe(['tail', 'g1', '--base-url', server.baseUrl, '--auth', SECRETS.bearer], { closeStdoutEarly: true, hardLimitMs: HARD_LIMIT_MS });
      measured.push({ probe: 'flood (| head -1)', command: 'tail', run });
      expect(run.killed).toBe(false);
      expect(run.code).toBe(141);
      expect(run.stderr).toBe('');
    } finally {
      await server.close();
    }
  }, TEST_TIMEOUT_MS);

  it('interrupted check: exit 130, JSON "interrupted": true, a JUnit error', async () => {
    const server = await startHostile('event-then-close');
    const dir = mkdtempSync(join(tmpdir(), 'sse-doctor-hostile-interrupt-'));
    try {
      const run = await probe(['check', '--json', '--junit', join(dir, 'check.xml'), '--base-url', server.baseUrl, '--auth', SECRETS.bearer], {
        // The whole check takes about a second against this server: Ctrl-C as soon as it first connects.
        interruptWhen: server.firstRequest,
        interruptAfterMs: 0,
        hardLimitMs: HARD_LIMIT_MS,
      });
      measured.push({ probe: 'event-then-close (Ctrl-C)', command: 'check', run });
      expect(run.code, run.stderr).toBe(130);
      expect(JSON.parse(run.stdout)).toMatchObject({ summary: { ok: false, interrupted: true } });
      const junit = readFileSync(join(dir, 'check.xml'), 'utf8');
      expect(junit).toMatch(/errors="[1-9]/);
      expect(junit).toContain('<error message="interrupted (Ctrl-C)');
    } finally {
      await server.close();
    }
  }, TEST_TIMEOUT_MS);

  it('interrupted replay: exit 130, JSON "interrupted": true and verdict fail', async () => {
    const server = await startHostile('event-then-close');
    try {
      const run = await probe(['replay', 'failed-generation', '--client', 'robust', '--json', '--max-duration', '30s', '--base-url', server.baseUrl, '--auth', SECRETS.bearer], {
        interruptWhen: server.firstRequest,
        interruptAfterMs: 300,
        hardLimitMs: HARD_LIMIT_MS,
      });
      measured.push({ probe: 'event-then-close (Ctrl-C)', command: 'replay', run });
      expect(run.code, run.stderr).toBe(130);
      expect(run.stderr).toContain('replay: interrupted; the report covers what ran');
      const report: unknown = JSON.parse(run.stdout);
      expect(report).toMatchObject({ scenario: 'failed-generation', client: 'robust', verdict: 'fail', interrupted: true });
      expect(schemaErrors(report, loadSchema('replay'))).toEqual([]);
    } finally {
      await server.close();
    }
  }, TEST_TIMEOUT_MS);

  it('self-signed × token --insecure: works, and says loudly that nothing was verified', async () => {
    const server = await startHostile('self-signed');
    try {
      const run = await probe(['token', 'g1', '--insecure', '--base-url', server.baseUrl, '--auth', SECRETS.bearer]);
      measured.push({ probe: 'self-signed (--insecure)', command: 'token', run });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/^sse-doctor: WARNING: --insecure: TLS certificates are NOT verified/);
      expect(run.stdout).toContain('token issued');
    } finally {
      await server.close();
    }
  }, TEST_TIMEOUT_MS);

  it('load --part into a folder or a missing folder: a usage error before the run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sse-doctor-hostile-part-'));
    mkdirSync(join(dir, 'sub'));
    for (const [part, says] of [
      [join(dir, 'sub'), /--part: .* is a folder/],
      [join(dir, 'missing', 'p.json'), /--part: cannot write .*: the folder .* does not exist/],
    ] as const) {
      const run = await probe(['load', '--base-url', 'http://127.0.0.1:9/api', '--duration', '30s', '--shard', '0/2', '--part', part]);
      measured.push({ probe: 'bad --part path', command: 'load', run });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(says);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      // Refused at once: the 30 s run never started.
      expect(run.ms).toBeLessThan(HARD_LIMIT_MS);
    }
  }, TEST_TIMEOUT_MS);

  it('a user scenario that throws: one line naming the scenario file and line', async () => {
    const server = await startHostile('echo-secrets');
    const dir = mkdtempSync(join(tmpdir(), 'sse-doctor-hostile-scenario-'));
    const file = join(dir, 'broken.mjs');
    writeFileSync(file, "export default {\n  name: 'broken',\n  description: 'throws',\n  defaultClients: ['robust'],\n  async run() {\n    throw new TypeError('oops');\n  },\n};\n");
    try {
      const run = await probe(['replay', file, '--base-url', server.baseUrl, '--auth', SECRETS.bearer]);
      measured.push({ probe: 'scenario throws', command: 'replay', run });
      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toMatch(new RegExp(`^sse-doctor: scenario broken threw TypeError: oops \\(at ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:6\\)$`));
    } finally {
      await server.close();
    }
  }, TEST_TIMEOUT_MS);
});

afterAll(() => {
  // The probe table for the note: exit code, time and peak memory of every probe.
  const rows = measured
    .sort((a, b) => a.probe.localeCompare(b.probe) || a.command.localeCompare(b.command))
    .map(({ probe: name, command, run }) => `| ${name} | ${command} | ${run.code} | ${(run.ms / 1000).toFixed(1)} s | ${run.peakMiB} MiB |`);
  const table = ['| probe | command | exit | time | peak RSS |', '|---|---|---|---|---|', ...rows].join('\n');
  mkdirSync(join(import.meta.dirname, '..', '..', 'reports'), { recursive: true });
  writeFileSync(join(import.meta.dirname, '..', '..', 'reports', 'hostile-probes.md'), `${table}\n`);
});
