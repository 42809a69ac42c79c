import type { Dispatcher } from 'undici';
import type { SecretSink } from './secrets.js';
import type { TargetOptions } from './target.js';
import { RefusedError, UnreachableError, type DoctorError } from '../errors.js';
import type { Clock } from './clock.js';
import { describeTransportFailure } from './connection.js';
import { isHttpFailure, sendJson, type HttpExchange, type HttpFailure } from './http.js';

/**
 * How a token answer wrote its `stream_url`, which decides what it is relative to:
 * - `absent`: no stream_url; the profile's stream path under the base URL is used.
 * - `absolute`: `http(s)://host/...`, used as is.
 * - `origin-relative`: `/api/generations/...`, a path that starts with the base URL's own path.
 * - `api-root-relative`: `/generations/...` under a base URL with a path (`/api`): seed 002's
 *   shape, relative to the API root. Under a base URL with no path the two are the same, and
 *   the form is `origin-relative`.
 * - `path-relative`: `generations/...`, no leading slash; resolved under the API root too.
 */
export type StreamUrlForm = 'absent' | 'absolute' | 'origin-relative' | 'api-root-relative' | 'path-relative';

/** What the tool made of a token answer's `stream_url`. */
export interface StreamUrlShape {
  readonly form: StreamUrlForm;
  /** Whether the URL carried `token=` itself; when not, the tool added it, as seed 002's frontend does. */
  readonly tokenIncluded: boolean;
}

/** A successful token response, checked for shape. */
export interface StreamToken {
  readonly token: string;
  readonly expiresIn: number | undefined;
  /** Absolute URL of the stream, with the token in it. */
  readonly streamUrl: string;
  readonly shape: StreamUrlShape;
}

/**
 * An endpoint's answer, checked for shape: what the caller asked for, or why there is none.
 * - `detail`: refused (any status but 2xx; the token endpoint, any but 200), FastAPI's `detail` in one line.
 * - `unusable`: a success no client can use (a body that is not JSON, a field missing or of the
 *   wrong type), in one line. Asking again gets the same answer, so no client retries it.
 * - `failure`: no answer at all (see `HttpFailure`).
 */
export type ApiResult<Value> =
  | ({ readonly ok: true; readonly exchange: HttpExchange } & Value)
  | ApiRefusal
  | { readonly ok: false; readonly failure: HttpFailure };

/** An answer the server gave that holds nothing usable: refused, or a success of the wrong shape. */
export type ApiRefusal =
  | { readonly ok: false; readonly exchange: HttpExchange; readonly detail: string }
  | { readonly ok: false; readonly exchange: HttpExchange; readonly unusable: string };

/** Every way an endpoint's answer can fail the caller. */
export type ApiFailure = ApiRefusal | { readonly ok: false; readonly failure: HttpFailure };

export type TokenResult = ApiResult<{ readonly token: StreamToken }>;
/** The create endpoint's answer: the new generation's id, always a string (a JSON number becomes its decimal). */
export type CreateResult = ApiResult<{ readonly id: string }>;

/** A generation as the status endpoint describes it. */
export interface GenerationState {
  readonly status: string;
  /** `error_message` when it is a non-empty string. */
  readonly errorMessage: string | undefined;
}

export type StatusResult = ApiResult<{ readonly state: GenerationState }>;

/** What a `GenerationsApi` works over: the connection pool, the clock for its timeouts, where issued tokens are told. */
export interface GenerationsApiDependencies {
  readonly dispatcher?: Dispatcher;
  readonly clock?: Clock;
  /** Told every stream token issued, so that the output layer can hide it wherever it turns up. */
  readonly secrets?: SecretSink;
}

/** Where a stream session gets its stream tokens: the API itself, or a wrapper that delegates to it (see `replay`'s context). */
export interface TokenSource {
  requestToken(id: string, options?: TokenRequestOptions): Promise<TokenResult>;
}

export interface TokenRequestOptions {
  readonly identity?: 'auth' | 'otherAuth' | 'none';
  /** Raw header overrides (for checks). */
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
}

/** The generations API (docs/contract.md endpoints) as plain calls over one dispatcher. */
export class GenerationsApi implements TokenSource {
  constructor(
    private readonly target: TargetOptions,
    private readonly dependencies: GenerationsApiDependencies = {},
  ) {}

  /** The URL of one of the profile's paths for generation `id`. */
  url(path: keyof TargetOptions['profile']['paths'], id = ''): string {
    return this.target.baseUrl + this.target.profile.paths[path].replaceAll('{id}', encodeURIComponent(id));
  }

  /** Headers for `identity`: the configured bearer by default, another one, or none at all. */
  headers(identity: 'auth' | 'otherAuth' | 'none' = 'auth', extra: Record<string, string> = {}): Record<string, string> {
    const bearer = identity === 'none' ? undefined : this.target[identity];
    return { ...this.target.headers, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...extra };
  }

  /** Creates a generation with `prompt`; `ok` carries its id. */
  async create(prompt: string, signal?: AbortSignal): Promise<CreateResult> {
    const result = await this.send('POST', this.url('create'), this.headers(), signal, { prompt });
    return answerOf(result, 'create', (status) => status >= 200 && status < 300, ({ id }) => {
      if (typeof id === 'string' && id.trim() !== '') return { id };
      // The one place a numeric id becomes the string every path, poll and report uses.
      if (typeof id === 'number' && Number.isFinite(id)) return { id: String(id) };
      return `id is ${id === undefined ? 'missing' : typeof id === 'string' ? 'an empty string' : describeJsonType(id)}`;
    });
  }

  /** The status endpoint's view of generation `id`. */
  async status(id: string, signal?: AbortSignal): Promise<StatusResult> {
    const result = await this.send('GET', this.url('status', id), this.headers(), signal);
    return answerOf(result, 'status', (status) => status === 200, ({ status, error_message: errorMessage }) => {
      if (typeof status !== 'string') return `status is ${status === undefined ? 'missing' : describeJsonType(status)}`;
      return { state: { status, errorMessage: typeof errorMessage === 'string' && errorMessage !== '' ? errorMessage : undefined } };
    });
  }

  /** Asks the token endpoint, as `identity`, with optional raw header overrides (for checks). */
  async requestToken(id: string, options: TokenRequestOptions = {}): Promise<TokenResult> {
    const result = await this.send('POST', this.url('token', id), this.headers(options.identity ?? 'auth', options.headers), options.signal);
    const answer = answerOf(result, 'token', (status) => status === 200, (body) => {
      const token = this.tokenFromBody(id, body);
      return typeof token === 'string' ? token : { token };
    });
    if (answer.ok) this.dependencies.secrets?.add(answer.token.token, 'shorten');
    return answer;
  }

  private send(method: 'GET' | 'POST', url: string, headers: Record<string, string>, signal: AbortSignal | undefined, body?: unknown): Promise<HttpExchange | HttpFailure> {
    const { dispatcher, clock } = this.dependencies;
    return sendJson({ method, url, headers, body, dispatcher, clock, headersTimeoutMs: this.target.headersTimeoutMs, signal, followRedirects: this.target.followRedirects });
  }

  /**
   * The stream URL for `token` (none, or a made-up one, for checks): `streamUrl` as a token
   * answer gave it (see `StreamUrlForm`), else the profile's stream path. A `token` parameter
   * the URL already has is kept; otherwise `token=` is added.
   */
  streamUrlFor(id: string, token: string | undefined, streamUrl?: string): string {
    const url = new URL(streamUrl === undefined ? this.url('stream', id) : this.resolveStreamUrl(streamUrl));
    if (token !== undefined && !url.searchParams.has('token')) url.searchParams.set('token', token);
    return url.href;
  }

  /** The form of a token answer's `stream_url` (undefined: absent), judged against the base URL's path. */
  streamUrlForm(streamUrl: string | undefined): StreamUrlForm {
    if (streamUrl === undefined) return 'absent';
    if (/^[a-z][a-z0-9+.-]*:/i.test(streamUrl) || streamUrl.startsWith('//')) return 'absolute';
    if (!streamUrl.startsWith('/')) return 'path-relative';
    const apiRoot = new URL(this.target.baseUrl).pathname.replace(/\/+$/, '');
    if (apiRoot === '' || streamUrl === apiRoot || streamUrl.startsWith(`${apiRoot}/`) || streamUrl.startsWith(`${apiRoot}?`)) return 'origin-relative';
    return 'api-root-relative';
  }

  private resolveStreamUrl(streamUrl: string): string {
    const form = this.streamUrlForm(streamUrl);
    const apiRoot = `${this.target.baseUrl.replace(/\/+$/, '')}/`;
    if (form === 'api-root-relative') return new URL(streamUrl.replace(/^\/+/, ''), apiRoot).href;
    return new URL(streamUrl, apiRoot).href;
  }

  /** A usable token from a 200's body, or what makes it unusable. */
  private tokenFromBody(id: string, body: Readonly<Record<string, unknown>>): StreamToken | string {
    const { sse_token: token, stream_url: streamUrl, expires_in: expiresIn } = body;
    if (typeof token !== 'string') return `sse_token is ${token === undefined ? 'missing' : describeJsonType(token)}`;
    if (token.trim() === '') return 'sse_token is an empty string';
    if (streamUrl !== undefined && streamUrl !== null && typeof streamUrl !== 'string') return `stream_url is ${describeJsonType(streamUrl)}, not a string`;
    const given = typeof streamUrl === 'string' && streamUrl.trim() !== '' ? streamUrl.trim() : undefined;
    let resolved: URL | undefined;
    try {
      resolved = given === undefined ? undefined : new URL(this.resolveStreamUrl(given));
    } catch {
      return 'stream_url is not a URL';
    }
    return {
      token,
      expiresIn: typeof expiresIn === 'number' ? expiresIn : undefined,
      streamUrl: this.streamUrlFor(id, token, given),
      shape: { form: this.streamUrlForm(given), tokenIncluded: resolved?.searchParams.has('token') ?? false },
    };
  }
}

/**
 * An exchange as an `ApiResult`: refused unless `accepted(status)`, unusable unless the body is a
 * JSON object that `read` makes a value of (else `read` says what is wrong with it).
 */
function answerOf<Value extends object>(
  result: HttpExchange | HttpFailure,
  endpoint: 'create' | 'status' | 'token',
  accepted: (status: number) => boolean,
  read: (body: Readonly<Record<string, unknown>>) => Value | string,
): ApiResult<Value> {
  if (isHttpFailure(result)) return { ok: false, failure: result };
  if (!accepted(result.status)) return { ok: false, exchange: result, detail: detailOf(result) };
  const body = result.json;
  const value = typeof body === 'object' && body !== null && !Array.isArray(body) ? read(body as Record<string, unknown>) : `its body is ${body === undefined ? 'not JSON' : `JSON ${describeJsonType(body)}, not an object`}`;
  if (typeof value === 'string') return { ok: false, exchange: result, unusable: `${endpoint} endpoint answered ${result.status} but ${value}` };
  return { ok: true, exchange: result, ...value };
}

/** A JSON value's type in words: "a number", "null", "an array". */
function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Why an answer the server gave holds nothing usable, in one line. */
export function whyRefused(result: ApiRefusal): string {
  return 'unusable' in result ? result.unusable : result.detail;
}

/** A refusal in one sentence: what was unusable, or `the <endpoint> endpoint answered <status> <detail>`. */
export function describeRefusal(result: ApiRefusal, endpoint: 'create' | 'status' | 'token'): string {
  return 'unusable' in result ? result.unusable : `the ${endpoint} endpoint answered ${result.exchange.status} ${result.detail}`;
}

/**
 * The one rule from a failed answer a run cannot go on without to the tool's error (and exit
 * code, docs/architecture.md "Exit codes"): no answer at all is an `UnreachableError` (exit 3); an
 * answer refused or unusable is a `RefusedError` (exit 2): one line with the URL, the answer and `hint`.
 */
export function answerError(result: ApiFailure, endpoint: 'create' | 'status' | 'token', url: string, hint: string): DoctorError {
  if ('failure' in result) return new UnreachableError(`${url}: ${describeTransportFailure(result.failure.failure, result.failure.code)}`);
  return new RefusedError(`${describeRefusal(result, endpoint)} (${url}; ${hint})`);
}

/** FastAPI's `detail` as one line: a string as is, a validation list as its messages. */
export function detailOf(exchange: HttpExchange): string {
  const { location } = exchange.headers;
  if (exchange.status >= 300 && exchange.status < 400 && location !== undefined) return `redirects to ${location}${exchange.redirect === undefined ? '' : ` (${exchange.redirect})`}`;
  const detail = (exchange.json as { detail?: unknown } | undefined)?.detail;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail.map((item) => (typeof item === 'object' && item && 'msg' in item ? String(item.msg) : JSON.stringify(item))).join('; ');
  }
  return exchange.bodyText.slice(0, 200);
}
