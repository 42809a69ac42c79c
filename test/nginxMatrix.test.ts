import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../src/check/types.js';
import { FAST_TIMINGS, fastProfile, fastTarget, idsWith, runFastCheck } from './helpers/checkTarget.js';
import { startCli } from './helpers/cli.js';
import { NGINX_VARIANTS, startFastApiBackend, startNginx, type NginxVariant } from './helpers/realTargets.js';

/**
 * Every nginx configuration of the harness in front of both backends (the reference server and
 * the FastAPI one), and exactly the rules each must fail: a rule missing is a problem the tool
 * cannot see behind that proxy, a rule too many is a false finding. Each failure must name the
 * proxy as its layer.
 */
const EXPECTED: Record<NginxVariant, readonly string[]> = {
  'sse-correct': [],
  // The whole response, headers included, arrives when the backend has finished.
  'buffered-http10': ['stream.connected-first', 'stream.no-buffering'],
  // Measured with a plain node:http client: over a chunked HTTP/1.1 upstream nginx 1.22 passes
  // each event on as it reads it to a client that keeps up, buffering on or not.
  'buffered-http11': [],
  // Both backends send X-Accel-Buffering: no, which this nginx honours.
  'buffered-honours-accel': [],
  'strips-accel-header': [],
  'gzip': ['stream.headers'],
  // Every stream is cut 1 s into the backend's thinking silence (its heartbeat is 2.5 s), the
  // failing generation's too, and again when resumed once: the failure comes later than that.
  'short-read-timeout': ['stream.clean-close', 'stream.failed-generation', 'stream.heartbeat', 'stream.terminal-event'],
};

/**
 * Generations of 3 s with 100 ms heartbeats, judged with a 4 s heartbeat interval (an event held
 * back more than 1 s is buffering) and 2 s for the first event: a whole response held back is
 * 3 s late, while a check process slowed by a shared machine stays well inside the limits.
 */
const TIMINGS = { ...FAST_TIMINGS, generationMs: 3000 };
const PROFILE = fastProfile({ heartbeatSeconds: 4, firstEventSeconds: 2, generationTimeoutSeconds: 20 });
/** For the idle-timeout variant: heartbeats 2.5 s apart, longer than nginx's 1 s read timeout, within the 4 s contract. */
const SLOW_HEARTBEAT = { ...TIMINGS, generationMs: 8000, heartbeatMs: 2500 };
const READ_TIMEOUT_SECONDS = 1;

type Backend = 'serve' | 'fastapi';
const running: { close(): Promise<void> }[] = [];
const backends = new Map<string, Promise<string>>();

/** The built `serve` in a process of its own: the checks' own load in this process cannot slow its streams. */
async function startServe(timings: typeof TIMINGS): Promise<string> {
  const { child, exited } = startCli(['serve', '--port', '0', '--generation', `${timings.generationMs}ms`, '--heartbeat', `${timings.heartbeatMs}ms`]);
  running.push({ close: () => (child.kill('SIGTERM'), exited.then(() => undefined)) });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  while (!stdout.includes('\n')) {
    if (child.exitCode !== null) throw new Error(`serve exited: ${(await exited).stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return stdout.split('\n')[0]!;
}

/** A backend's base URL, one per kind and timing set, shared by the variants in front of it. */
function backend(kind: Backend, slowHeartbeat: boolean): Promise<string> {
  const key = `${kind}:${slowHeartbeat}`;
  let url = backends.get(key);
  if (url === undefined) {
    const timings = slowHeartbeat ? SLOW_HEARTBEAT : TIMINGS;
    url =
      kind === 'serve'
        ? startServe(timings)
        : startFastApiBackend({ timings }).then((target) => {
            running.push(target);
            return target.baseUrl;
          });
    backends.set(key, url);
  }
  return url;
}

async function checkBehindNginx(kind: Backend, variant: NginxVariant): Promise<CheckReport> {
  const nginx = await startNginx({ upstream: await backend(kind, variant === 'short-read-timeout'), variant, readTimeoutSeconds: READ_TIMEOUT_SECONDS });
  running.push(nginx);
  return runFastCheck(fastTarget(nginx.baseUrl, PROFILE));
}

const cases = (['serve', 'fastapi'] as const).flatMap((kind) => NGINX_VARIANTS.map((variant) => [kind, variant] as const));
/** A few checks at once: each is mostly waiting, but the machine is shared. */
const AT_ONCE = 3;
const reports = new Map<string, Promise<CheckReport>>();

beforeAll(() => {
  let previous: Promise<unknown> = Promise.resolve();
  for (let start = 0; start < cases.length; start += AT_ONCE) {
    const batch = cases.slice(start, start + AT_ONCE);
    const started = previous.then(() => batch.map(([kind, variant]) => checkBehindNginx(kind, variant)));
    batch.forEach(([kind, variant], index) => reports.set(`${kind}:${variant}`, started.then((promises) => promises[index]!)));
    previous = started.then((promises) => Promise.allSettled(promises));
  }
});
afterAll(() => Promise.all(running.map((target) => target.close())));

describe('check behind every nginx configuration, in front of both backends', () => {
  it.each(cases)('%s behind nginx %s fails exactly the rules it should, naming the proxy', async (kind, variant) => {
    const report = await reports.get(`${kind}:${variant}`)!;
    const failed = idsWith(report, 'fail').sort();
    expect(failed, JSON.stringify(report.results.filter((result) => result.status === 'fail').map(({ id, message }) => ({ id, message })), null, 1)).toEqual([...EXPECTED[variant]].sort());
    for (const result of report.results.filter((item) => item.status === 'fail')) expect(result.layer, result.id).toBe('proxy');
    expect(report.summary.problems).toEqual([]);
  }, 120_000);
});
