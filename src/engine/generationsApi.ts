import type { Dispatcher } from 'undici';
import type { SecretSink } from './secrets.js';
import type { TargetOptions } from './target.js';
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

export type TokenResult =
  | { readonly ok: true; readonly exchange: HttpExchange; readonly token: StreamToken }
  /** Refused: any status but 200. */
  | { readonly ok: false; readonly exchange: HttpExchange; readonly detail: string }
  /**
   * A 200 no client can use (a body that is not JSON, `sse_token` not a non-empty string,
   * `stream_url` not a string): `unusable` says which, in one line. Asking again gets the same
   * answer, so no client retries it.
   */
  | { readonly ok: false; readonly exchange: HttpExchange; readonly unusable: string }
  | { readonly ok: false; readonly failure: HttpFailure };

/** The generations API (docs/contract.md endpoints) as plain calls over one dispatcher. */
export class GenerationsApi {
  constructor(
    private readonly target: TargetOptions,
    private readonly dispatcher: Dispatcher | undefined,
    /** Told every stream token issued, so that the output layer can hide it wherever it turns up. */
    private readonly secrets?: SecretSink,
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

  create(prompt: string, signal?: AbortSignal): Promise<HttpExchange | HttpFailure> {
    return sendJson({
      method: 'POST',
      url: this.url('create'),
      headers: this.headers(),
      body: { prompt },
      dispatcher: this.dispatcher,
      headersTimeoutMs: this.target.headersTimeoutMs,
      signal,
    });
  }

  status(id: string, signal?: AbortSignal): Promise<HttpExchange | HttpFailure> {
    return sendJson({
      method: 'GET',
      url: this.url('status', id),
      headers: this.headers(),
      dispatcher: this.dispatcher,
      headersTimeoutMs: this.target.headersTimeoutMs,
      signal,
    });
  }

  /** Asks the token endpoint, as `identity`, with optional raw header overrides (for checks). */
  async requestToken(
    id: string,
    options: { identity?: 'auth' | 'otherAuth' | 'none'; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<TokenResult> {
    const result = await sendJson({
      method: 'POST',
      url: this.url('token', id),
      headers: this.headers(options.identity ?? 'auth', options.headers),
      dispatcher: this.dispatcher,
      headersTimeoutMs: this.target.headersTimeoutMs,
      signal: options.signal,
    });
    if (isHttpFailure(result)) return { ok: false, failure: result };
    if (result.status !== 200) return { ok: false, exchange: result, detail: detailOf(result) };
    const token = this.tokenFromBody(id, result.json);
    if (typeof token === 'string') return { ok: false, exchange: result, unusable: token };
    this.secrets?.add(token.token, 'shorten');
    return { ok: true, exchange: result, token };
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

  /** A usable token from a 200's body, or one line naming what makes it unusable. */
  private tokenFromBody(id: string, body: unknown): StreamToken | string {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return `token endpoint answered 200 but its body is ${body === undefined ? 'not JSON' : `JSON ${describeJsonType(body)}, not an object`}`;
    }
    const { sse_token: token, stream_url: streamUrl, expires_in: expiresIn } = body as Record<string, unknown>;
    if (typeof token !== 'string') return `token endpoint answered 200 but sse_token is ${token === undefined ? 'missing' : describeJsonType(token)}`;
    if (token.trim() === '') return 'token endpoint answered 200 but sse_token is an empty string';
    if (streamUrl !== undefined && streamUrl !== null && typeof streamUrl !== 'string') {
      return `token endpoint answered 200 but stream_url is ${describeJsonType(streamUrl)}, not a string`;
    }
    const given = typeof streamUrl === 'string' && streamUrl.trim() !== '' ? streamUrl.trim() : undefined;
    let resolved: URL | undefined;
    try {
      resolved = given === undefined ? undefined : new URL(this.resolveStreamUrl(given));
    } catch {
      return 'token endpoint answered 200 but stream_url is not a URL';
    }
    return {
      token,
      expiresIn: typeof expiresIn === 'number' ? expiresIn : undefined,
      streamUrl: this.streamUrlFor(id, token, given),
      shape: { form: this.streamUrlForm(given), tokenIncluded: resolved?.searchParams.has('token') ?? false },
    };
  }
}

/** A JSON value's type in words: "a number", "null", "an array". */
function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Why a token answer the server gave (not a 200 with a token) holds no usable token, in one line. */
export function whyNoToken(result: Extract<TokenResult, { readonly ok: false; readonly exchange: HttpExchange }>): string {
  return 'unusable' in result ? result.unusable : result.detail;
}

/** FastAPI's `detail` as one line: a string as is, a validation list as its messages. */
export function detailOf(exchange: HttpExchange): string {
  const { location } = exchange.headers;
  if (exchange.status >= 300 && exchange.status < 400 && location !== undefined) return `redirects to ${location}`;
  const detail = (exchange.json as { detail?: unknown } | undefined)?.detail;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail.map((item) => (typeof item === 'object' && item && 'msg' in item ? String(item.msg) : JSON.stringify(item))).join('; ');
  }
  return exchange.bodyText.slice(0, 200);
}
