import { isCredentialHeader } from './secrets.js';

/** Redirects followed for one request at most, with `--follow-redirects`. */
export const MAX_REDIRECTS = 5;

/** Why a 3xx ends a request without `--follow-redirects`. */
export const REDIRECTS_NOT_FOLLOWED = 'sse-doctor follows redirects only with --follow-redirects; or point it at the final URL';

/** The statuses that send a client elsewhere with a `Location` (RFC 9110 §15.4). */
export function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** What a redirect changes about a request. */
export interface RedirectableRequest {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly hasBody: boolean;
}

/**
 * The request a redirect leads to, or one line saying why it is not followed. As a browser's
 * fetch does: 303, and 301/302 after a POST, become a GET without the body; 307/308 keep both.
 * Never across origins with a credential: the `Authorization`, cookie and every header the
 * redactor counts as a credential (`X-Api-Key`, `-H` tokens) stay behind. `visited` holds every
 * URL requested so far, the first one included: a URL seen again is a loop, and past
 * `MAX_REDIRECTS` the chain is cut.
 */
export function followRedirect(request: RedirectableRequest, status: number, location: string, visited: readonly string[]): { readonly next: RedirectableRequest } | { readonly stop: string } {
  let target: URL;
  try {
    target = new URL(location, request.url);
  } catch {
    return { stop: `its Location ${JSON.stringify(location)} is not a URL` };
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return { stop: `its Location leaves HTTP (${target.protocol})` };
  const url = target.href;
  const chain = [...visited, url].join(' -> ');
  if (visited.includes(url)) return { stop: `a redirect loop: ${chain}` };
  if (visited.length > MAX_REDIRECTS) return { stop: `more than ${MAX_REDIRECTS} redirects: ${chain}` };
  const toGet = status === 303 || ((status === 301 || status === 302) && request.method === 'POST');
  const sameOrigin = target.origin === new URL(request.url).origin;
  return {
    next: {
      url,
      method: toGet ? 'GET' : request.method,
      headers: sameOrigin ? request.headers : withoutCredentials(request.headers),
      hasBody: request.hasBody && !toGet,
    },
  };
}

function withoutCredentials(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !isCredentialHeader(name)));
}
