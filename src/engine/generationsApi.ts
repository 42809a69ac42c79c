import type { Dispatcher } from 'undici';
import type { SecretSink } from './secrets.js';
import type { TargetOptions } from './target.js';
import { isHttpFailure, sendJson, type HttpExchange, type HttpFailure } from './http.js';

/** A successful token response, checked for shape. */
export interface StreamToken {
  readonly token: string;
  readonly expiresIn: number | undefined;
  /** Absolute URL of the stream, resolved against the base URL. */
  readonly streamUrl: string;
}

export type TokenResult =
  | { readonly ok: true; readonly exchange: HttpExchange; readonly token: StreamToken }
  | { readonly ok: false; readonly exchange: HttpExchange; readonly detail: string }
  | { readonly ok: false; readonly failure: HttpFailure };

/** The generations API (CONTRACT.md endpoints) as plain calls over one dispatcher. */
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
    const body = result.json as Record<string, unknown> | undefined;
    if (result.status === 200 && typeof body?.sse_token === 'string') {
      this.secrets?.add(body.sse_token, 'shorten');
      return { ok: true, exchange: result, token: this.tokenFromBody(id, body, body.sse_token) };
    }
    return { ok: false, exchange: result, detail: detailOf(result) };
  }

  /** The stream URL for a token, with no token at all, or with a made-up one (for checks). */
  streamUrlFor(id: string, token: string | undefined): string {
    const url = new URL(this.url('stream', id));
    if (token !== undefined) url.searchParams.set('token', token);
    return url.href;
  }

  private tokenFromBody(id: string, body: Record<string, unknown>, token: string): StreamToken {
    const given = typeof body.stream_url === 'string' ? body.stream_url : undefined;
    // A relative stream_url is relative to the server's origin, the way a browser resolves it.
    const streamUrl = given ? new URL(given, this.target.baseUrl + '/').href : this.streamUrlFor(id, token);
    return { token, expiresIn: typeof body.expires_in === 'number' ? body.expires_in : undefined, streamUrl };
  }
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
