import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startReferenceServer } from '../../src/server/referenceServer.js';
import type { FaultName, ServerTimings } from '../../src/server/settings.js';

/**
 * Real software nobody on this project wrote, started per test file and ended by PID: the FastAPI
 * generations backend (uvicorn), an sse-starlette app, and Debian's nginx in front of either.
 * `scripts/pretest.sh` (run by `npm test`) installs what they need.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const TARGETS = join(ROOT, 'test', 'targets');
/** The interpreter with fastapi, uvicorn and sse-starlette: the pretest's venv, or `SSE_DOCTOR_PYTHON`. */
export function pythonPath(env: NodeJS.ProcessEnv = process.env): string {
  const python = env.SSE_DOCTOR_PYTHON || join(ROOT, '.venv', 'bin', 'python');
  if (!existsSync(python)) throw new Error(`no Python at ${python}: run "bash scripts/pretest.sh" (npm test runs it first) to build .venv`);
  return python;
}

/** A bound, not a speed test: on a machine shared by many jobs, uvicorn can take tens of seconds to import. */
export const STARTUP_TIMEOUT_MS = 60_000;
/** How long a target has to leave after SIGTERM before it is killed. */
const STOP_GRACE_MS = 1000;

/** A process of ours, ended by its PID. */
export interface RunningTarget {
  readonly pid: number;
  /** The directory holding this target's logs (and, for nginx, its configuration). */
  readonly dir: string;
  close(): Promise<void>;
}

export interface PythonTarget extends RunningTarget {
  /** `http://127.0.0.1:PORT/api` for the backend; `http://127.0.0.1:PORT` for sse-starlette. */
  readonly baseUrl: string;
  /** uvicorn's access log: one line per request, as uvicorn writes it (the stream token included, as uvicorn does). */
  readonly accessLogPath: string;
  /** uvicorn's own log (startup, tracebacks of requests that raised). */
  readonly logPath: string;
}

function targetDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `sse-doctor-${name}-`));
}

/** Ends `child` by its PID: SIGTERM, then SIGKILL if it is still there after a grace period. */
function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts a Python script that prints its base URL as its first stdout line; its stderr goes to `logPath`. */
async function startPython(name: string, script: string, args: string[]): Promise<PythonTarget> {
  const dir = targetDir(name);
  const logPath = join(dir, 'uvicorn.log');
  const accessLogPath = join(dir, 'access.log');
  const log = openSync(logPath, 'a');
  const child = spawn(pythonPath(), [script, ...args, '--access-log', accessLogPath], {
    stdio: ['ignore', 'pipe', log],
    env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
  });
  closeSync(log);
  const close = () => stopProcess(child);
  try {
    const baseUrl = await firstLine(child, name, logPath);
    return { pid: child.pid as number, dir, baseUrl, accessLogPath, logPath, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function firstLine(child: ChildProcess, name: string, logPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const failed = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`${name} ${why}; its log:\n${readFileSync(logPath, 'utf8').slice(-2000)}`));
    };
    const timer = setTimeout(() => failed(`printed no URL within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS);
    child.once('exit', (code) => failed(`exited (code ${code}) before printing its URL`));
    lines.once('line', (line) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      // Keep draining stdout so the child never blocks on a full pipe.
      child.stdout!.resume();
      resolve(line.trim());
    });
  });
}

/** How the FastAPI backend runs: the same faults and timings as `sse-doctor serve`. */
export interface FastApiOptions {
  readonly faults?: readonly FaultName[];
  readonly timings?: Partial<ServerTimings>;
}

const TIMING_FLAGS: Record<keyof ServerTimings, string> = {
  generationMs: '--generation-ms',
  heartbeatMs: '--heartbeat-ms',
  streamMaxMs: '--stream-max-ms',
  tokenTtlMs: '--token-ttl-ms',
  rateWindowMs: '--rate-window-ms',
  rateLimit: '--rate-limit',
};

/** The FastAPI generations backend of `test/targets/fastapi_backend` under uvicorn. */
export function startFastApiBackend(options: FastApiOptions = {}): Promise<PythonTarget> {
  const args: string[] = [];
  if (options.faults && options.faults.length > 0) args.push('--fault', options.faults.join(','));
  for (const [key, value] of Object.entries(options.timings ?? {})) {
    if (value !== undefined) args.push(TIMING_FLAGS[key as keyof ServerTimings], String(value));
  }
  return startPython('fastapi', join(TARGETS, 'fastapi_backend', 'main.py'), args);
}

/** The sse-starlette app of `test/targets/sse_starlette_app.py`: `/events` (typed, terminal) and `/v1/chat/completions` (OpenAI-style, `[DONE]`). */
export function startSseStarlette(options: { readonly pingSeconds?: number; readonly intervalMs?: number } = {}): Promise<PythonTarget> {
  const args: string[] = [];
  if (options.pingSeconds !== undefined) args.push('--ping-seconds', String(options.pingSeconds));
  if (options.intervalMs !== undefined) args.push('--interval-ms', String(options.intervalMs));
  return startPython('sse-starlette', join(TARGETS, 'sse_starlette_app.py'), args);
}

/**
 * nginx configurations users really deploy in front of an SSE backend, by name:
 * - `sse-correct`: HTTP/1.1 upstream, `Connection ''`, `proxy_buffering off`.
 * - `buffered-http10`: buffering on, `X-Accel-Buffering` ignored, nginx's default HTTP/1.0 upstream.
 * - `buffered-http11`: the same over an HTTP/1.1 upstream.
 * - `buffered-honours-accel`: buffering on, the backend's `X-Accel-Buffering: no` honoured.
 * - `strips-accel-header`: correct, plus `proxy_hide_header X-Accel-Buffering`.
 * - `gzip`: correct, plus gzip on event streams.
 * - `short-read-timeout`: correct, with `proxy_read_timeout` of `readTimeoutSeconds`.
 */
export const NGINX_VARIANTS = [
  'sse-correct',
  'buffered-http10',
  'buffered-http11',
  'buffered-honours-accel',
  'strips-accel-header',
  'gzip',
  'short-read-timeout',
] as const;

export type NginxVariant = (typeof NGINX_VARIANTS)[number];

export interface NginxOptions {
  /** The backend's base URL; its path (`/api`) stays the same behind nginx. */
  readonly upstream: string;
  readonly variant: NginxVariant;
  /** `proxy_read_timeout` of `short-read-timeout`, in seconds (default 1). */
  readonly readTimeoutSeconds?: number;
}

export interface NginxTarget extends RunningTarget {
  /** The upstream's base URL with nginx's origin: `http://127.0.0.1:NGINX_PORT/api`. */
  readonly baseUrl: string;
  readonly port: number;
  /** The access log in nginx's `combined` format. */
  readonly accessLogPath: string;
  /** The access log in `combined` plus `rt=$request_time urt=$upstream_response_time`, as users add for timing. */
  readonly timedAccessLogPath: string;
  readonly errorLogPath: string;
}

const HTTP11_UPSTREAM = ['proxy_http_version 1.1;', "proxy_set_header Connection '';"];
const CORRECT = [...HTTP11_UPSTREAM, 'proxy_buffering off;', 'proxy_cache off;'];

function variantDirectives(options: NginxOptions): string[] {
  switch (options.variant) {
    case 'sse-correct':
      return CORRECT;
    case 'buffered-http10':
      return ['proxy_buffering on;', 'proxy_ignore_headers X-Accel-Buffering;'];
    case 'buffered-http11':
      return [...HTTP11_UPSTREAM, 'proxy_buffering on;', 'proxy_ignore_headers X-Accel-Buffering;'];
    case 'buffered-honours-accel':
      return [...HTTP11_UPSTREAM, 'proxy_buffering on;'];
    case 'strips-accel-header':
      return [...CORRECT, 'proxy_hide_header X-Accel-Buffering;'];
    case 'gzip':
      return [...CORRECT, 'gzip on;', 'gzip_types text/event-stream;', 'gzip_min_length 1;'];
    case 'short-read-timeout':
      return [...CORRECT, `proxy_read_timeout ${options.readTimeoutSeconds ?? 1}s;`];
  }
}

function nginxConfig(dir: string, port: number, upstream: URL, options: NginxOptions): string {
  const temp = (name: string) => {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true });
    return path;
  };
  return `# ${options.variant}
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} info;
${process.getuid?.() === 0 ? '# Run as root only in tests: the workers must read this private temp dir.\nuser root;' : ''}
events { worker_connections 1024; }
http {
  log_format timed '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time urt=$upstream_response_time';
  access_log ${join(dir, 'access.log')} combined;
  access_log ${join(dir, 'access_timed.log')} timed;
  client_body_temp_path ${temp('client_body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://${upstream.host};
${variantDirectives(options)
  .map((line) => `      ${line}`)
  .join('\n')}
    }
  }
}
`;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Ports picked free may be taken before nginx binds them; it is started again on another. */
const NGINX_ATTEMPTS = 5;

/** Debian's nginx, in the foreground, with its prefix, logs and pid file in a temp dir of its own. */
export async function startNginx(options: NginxOptions): Promise<NginxTarget> {
  const upstream = new URL(options.upstream);
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < NGINX_ATTEMPTS; attempt++) {
    const dir = targetDir(`nginx-${options.variant}`);
    const port = await freePort();
    const config = join(dir, 'nginx.conf');
    writeFileSync(config, nginxConfig(dir, port, upstream, options));
    const errorLogPath = join(dir, 'error.log');
    const child = spawn('nginx', ['-p', dir, '-c', config, '-e', errorLogPath, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ready = await untilListening(child, port, join(dir, 'nginx.pid'));
    if (ready) {
      return {
        pid: child.pid as number,
        dir,
        port,
        baseUrl: `http://127.0.0.1:${port}${upstream.pathname.replace(/\/$/, '')}`,
        accessLogPath: join(dir, 'access.log'),
        timedAccessLogPath: join(dir, 'access_timed.log'),
        errorLogPath,
        close: () => stopProcess(child),
      };
    }
    await stopProcess(child);
    const log = `${stderr}${existsSync(errorLogPath) ? readFileSync(errorLogPath, 'utf8') : ''}`;
    lastError = new Error(`nginx (${options.variant}) did not start on port ${port}:\n${log.slice(-2000)}`);
    if (!/Address already in use/.test(log)) break;
  }
  throw lastError;
}

/**
 * Resolves true once nginx wrote its pid file (after binding) and `port` accepts connections;
 * false if it exits or time runs out first.
 */
async function untilListening(child: ChildProcess, port: number, pidFile: string): Promise<boolean> {
  const deadline = performance.now() + STARTUP_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if (existsSync(pidFile) && (await accepts(port))) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return false;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A generations backend a test runs against: its base URL, and how to end it. */
export interface Backend {
  readonly baseUrl: string;
  close(): Promise<void>;
}

export type StartBackend = (options: FastApiOptions) => Promise<Backend>;

/**
 * The two independent generations backends: our reference server and the FastAPI one written
 * from the seeds. Tests run the same assertions against both (`describe.each(BACKENDS)`). `pace`
 * is how much slower than test timings a backend is run (see `atPace`): uvicorn spends several
 * times node's CPU per request, and a shared machine stretches that further.
 */
export const BACKENDS: readonly (readonly [name: 'serve' | 'fastapi', start: StartBackend, pace: number])[] = [
  ['serve', (options) => startReferenceServer({ port: 0, ...options }), 1],
  ['fastapi', (options) => startFastApiBackend(options), 2],
];
