import { Agent, request, type Dispatcher } from 'undici';
import { LOCAL_LIMIT_CODES, UNREACHABLE_CODES, discard, errorCode, flattenHeaders, parseRetryAfter } from './connection.js';

/** One agent per run: it carries the connect timeout every request and stream shares. */
export function createDispatcher(connectTimeoutMs: number): Dispatcher {
  return new Agent({ connect: { timeout: connectTimeoutMs }, keepAliveTimeout: 10_000 });
}

/** An HTTP exchange as evidence: status, headers, the body (parsed when JSON), timing. */
export interface HttpExchange {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly bodyText: string;
  readonly json: unknown;
  readonly latencyMs: number;
  readonly retryAfterSeconds: number | undefined;
}

/** The target could not be reached at all: a value, so callers decide what it means for them. */
export interface HttpFailure {
  /** `local-limit`: this process is out of file descriptors (the tool's limit, see `LOCAL_LIMIT_CODES`). */
  readonly failure: 'unreachable' | 'timeout' | 'reset' | 'abrupt-close' | 'local-limit';
  readonly code: string;
  readonly message: string;
  readonly latencyMs: number;
}

export interface JsonRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly dispatcher?: Dispatcher;
  readonly headersTimeoutMs: number;
  readonly signal?: AbortSignal;
}

const MAX_BODY_BYTES = 64 * 1024;

export async function sendJson(req: JsonRequest): Promise<HttpExchange | HttpFailure> {
  const started = performance.now();
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  try {
    const response = await request(req.url, {
      method: req.method,
      headers,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      dispatcher: req.dispatcher,
      headersTimeout: req.headersTimeoutMs,
      bodyTimeout: req.headersTimeoutMs,
      signal: req.signal,
    });
    const bodyText = await readCapped(response.body);
    const flat = flattenHeaders(response.headers);
    return {
      status: response.statusCode,
      headers: flat,
      bodyText,
      json: parseJsonOrUndefined(bodyText),
      latencyMs: performance.now() - started,
      retryAfterSeconds: parseRetryAfter(flat['retry-after']),
    };
  } catch (error) {
    const code = errorCode(error);
    const failure = failureKind(code);
    return { failure, code, message: (error as Error).message, latencyMs: performance.now() - started };
  }
}

/** A failed request's error code in the words the stream ends use. */
export function failureKind(code: string): HttpFailure['failure'] {
  if (UNREACHABLE_CODES.includes(code)) return 'unreachable';
  if (LOCAL_LIMIT_CODES.includes(code)) return 'local-limit';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  return code === 'ECONNRESET' ? 'reset' : 'abrupt-close';
}

export function isHttpFailure(result: HttpExchange | HttpFailure): result is HttpFailure {
  return 'failure' in result;
}

async function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      discard(body);
      break;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
