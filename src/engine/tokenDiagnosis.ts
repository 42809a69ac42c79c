/** A token endpoint answer in plain words: what it means and what a client must do next. */
export interface TokenDiagnosis {
  readonly meaning: string;
  readonly next: string;
}

/**
 * Plain-words reading of a token endpoint status (docs/contract.md "Token endpoint rules"). The
 * server's detail is not repeated here: callers show it on its own.
 */
export function diagnoseTokenStatus(status: number, retryAfterSeconds: number | undefined, fallbackWaitSeconds: number, tokenUsable = status === 200): TokenDiagnosis {
  if (status >= 200 && status < 300 && !tokenUsable) {
    return {
      meaning: `the token endpoint answered ${status} without a usable token (the body must be JSON with sse_token a string)`,
      next: 'do not retry: the same request gets the same body; fix the token endpoint',
    };
  }
  if (status >= 300 && status < 400) {
    return {
      meaning: `the token endpoint answered ${status}, a redirect (the Location is in the detail)`,
      next: 'do not retry: point --base-url at the final URL, or let sse-doctor follow it with --follow-redirects',
    };
  }
  switch (status) {
    case 200:
      return { meaning: 'a stream token was issued', next: 'open the stream_url within expires_in seconds; the token works once' };
    case 400:
      return {
        meaning: 'the generation cannot be streamed: it is already terminal',
        next: 'do not retry: show the final status (GET the generation) or the error to the user',
      };
    case 401:
    case 403:
      return {
        meaning: 'the request is not authenticated or not allowed (missing, malformed or expired bearer)',
        next: 'do not retry with the same credentials: refresh the login, then ask again (check --auth / SSE_DOCTOR_AUTH)',
      };
    case 404:
      return {
        meaning: 'no such generation for this user (unknown id, or it belongs to someone else)',
        next: 'do not retry: check the generation id and that the bearer is its owner',
      };
    case 422:
      return { meaning: 'the request was rejected as invalid', next: 'do not retry: fix the request' };
    case 429:
      return {
        meaning: 'too many token requests for this generation',
        next:
          retryAfterSeconds === undefined
            ? `wait ${fallbackWaitSeconds} s (no Retry-After header was sent) before any new token request; a retry loop is what got you here`
            : `wait ${retryAfterSeconds} s (Retry-After) before any new token request; a retry loop is what got you here`,
      };
    default:
      if (status >= 500) {
        return {
          meaning: `the server failed (${status})`,
          next: 'retry with backoff (2, 4, 8, 16, 32 s) at most 5 times; if the generation is terminal, the server should answer 400, not 5xx',
        };
      }
      return { meaning: `unexpected status ${status}`, next: 'compare with docs/contract.md: the token endpoint answers 200, 400, 401, 404 or 429' };
  }
}
