import { randomUUID } from 'node:crypto';
import { redactStreamUrl } from '../../engine/secrets.js';
import type { StreamToken } from '../../engine/generationsApi.js';
import { tokenEvidence, tokenStatus } from '../evidence.js';
import { fail, pass, skip, warn, type Evidence, type Rule } from '../types.js';

const DENIED = [401, 403];

export const tokenAuth: Rule = {
  id: 'token.auth',
  severity: 'error',
  group: 'token',
  title: 'token endpoint refuses requests without valid credentials (401)',
  why: 'a token endpoint that answers without credentials hands any caller a live stream of someone\'s generation',
  profiles: ['generations'],
  async run(ctx) {
    const fixture = await ctx.generation('completing');
    if (!fixture.ok) return skip(fixture.reason);
    const { id } = fixture.value;
    const missing = await ctx.api.requestToken(id, { identity: 'none', signal: ctx.signal });
    // Another scheme than Bearer: a header that is present but cannot name a user.
    const malformed = await ctx.api.requestToken(id, { identity: 'none', headers: { authorization: 'Basic c3NlLWRvY3Rvcg==' }, signal: ctx.signal });
    const evidence = { withoutAuthorization: tokenEvidence(missing), malformedAuthorization: tokenEvidence(malformed) };
    const statuses = [tokenStatus(missing), tokenStatus(malformed)];
    if (statuses.some((status) => status === 200)) {
      return fail(
        'the token endpoint issued a stream token to a request without valid credentials',
        'anyone who knows or guesses a generation id can stream it',
        'require the bearer on the token endpoint and answer 401 when it is missing or malformed',
        evidence,
      );
    }
    if (statuses.every((status) => status !== undefined && DENIED.includes(status))) {
      return pass(`answered ${statuses.join(' and ')} without and with malformed credentials`, evidence);
    }
    return fail(
      `the token endpoint answered ${statuses.map((status) => status ?? 'nothing').join(' and ')} without and with malformed credentials, not 401`,
      'a client cannot tell "log in again" from other errors, and a 5xx invites retries',
      'answer 401 (or 403) when the Authorization header is missing or malformed',
      evidence,
    );
  },
};

export const tokenOwner: Rule = {
  id: 'token.owner',
  severity: 'error',
  group: 'token',
  title: "another user cannot get a token for someone else's generation (404)",
  why: 'a token for another user\'s generation leaks that user\'s output; 404 also hides whether the id exists',
  needsOtherAuth: true,
  profiles: ['generations'],
  async run(ctx) {
    const fixture = await ctx.generation('completing');
    if (!fixture.ok) return skip(fixture.reason);
    const answer = await ctx.api.requestToken(fixture.value.id, { identity: 'otherAuth', signal: ctx.signal });
    const evidence = tokenEvidence(answer);
    const status = tokenStatus(answer);
    if (status === 404 || status === 403) return pass(`the second user got ${status} for the first user's generation`, evidence);
    if (status === 200) {
      return fail(
        "the token endpoint issued a stream token to a second user for the first user's generation",
        "any signed-in user can read any other user's generation by its id",
        'check that the generation belongs to the caller before issuing a token, and answer 404 otherwise',
        evidence,
      );
    }
    if (status === 401) return skip('the --other-auth bearer was refused as unauthenticated (401): give a valid token of a second user', evidence);
    return fail(
      `the token endpoint answered ${status ?? 'nothing'} to a second user, not 404`,
      'a client cannot tell "not yours" from a server error, and a 5xx invites retries',
      "answer 404 (or 403) for another user's generation",
      evidence,
    );
  },
};

export const tokenUnknownId: Rule = {
  id: 'token.unknown-id',
  severity: 'error',
  group: 'token',
  title: 'token endpoint answers 404 for an unknown generation',
  why: 'anything but 404 for an id that does not exist (a 500, a token) makes clients retry a request that can never succeed',
  profiles: ['generations'],
  async run(ctx) {
    const unknownId = randomUUID();
    const answer = await ctx.api.requestToken(unknownId, { signal: ctx.signal });
    if ('failure' in answer) return skip(ctx.failureReason(`token ${ctx.api.url('token', unknownId)}`, answer.failure));
    const evidence = { generationId: unknownId, ...tokenEvidence(answer) };
    const { status } = answer.exchange;
    if (status === 404) return pass('answered 404 for a made-up generation id', evidence);
    if (status === 422) return pass('answered 422: the id format is validated before the lookup', evidence);
    return fail(
      `the token endpoint answered ${status} for a generation id that does not exist`,
      status === 200 ? 'tokens for nothing mean streams that can never end properly' : 'a client cannot tell a wrong id from a passing failure, and a 5xx invites retries',
      'answer 404 with a detail when the generation does not exist',
      evidence,
    );
  },
};

const URL_SAFE = /^[A-Za-z0-9\-._~]+$/;

export const tokenIssue: Rule = {
  id: 'token.issue',
  severity: 'error',
  group: 'token',
  title: 'token endpoint issues a URL-safe token with expires_in and stream_url',
  why: 'the client needs a URL-safe, single-use token, its lifetime (expires_in) and where to stream (stream_url) to connect without guessing',
  profiles: ['generations'],
  async run(ctx) {
    const first = await ctx.firstToken();
    if (!first.ok) return skip(first.reason);
    const { id, result } = first.value;
    if ('failure' in result) return skip(ctx.failureReason(`token ${ctx.api.url('token', id)}`, result.failure));
    if ('unusable' in result) {
      return fail(
        result.unusable,
        'no client can stream with it, and asking again gets the same answer',
        'answer 200 with {"sse_token": <non-empty URL-safe string>, "expires_in": <seconds>, "stream_url": <URL string>, "generation_id": <id>}',
        tokenEvidence(result),
      );
    }
    if (!result.ok) {
      return fail(
        `the token endpoint answered ${result.exchange.status} (${result.detail || 'no detail'}) for a running generation of the same user`,
        'no client can stream at all',
        'answer 200 with {"sse_token", "expires_in", "stream_url", "generation_id"} for the owner of a running generation',
        tokenEvidence(result),
      );
    }
    const body = result.exchange.json as Record<string, unknown>;
    const { token } = result.token;
    const expected = ctx.profile.limits.tokenExpiresSeconds;
    const evidence = {
      ...tokenEvidence(result),
      tokenLength: token.length,
      expiresIn: body.expires_in,
      ...streamUrlEvidence(result.token),
      generationId: body.generation_id,
    };
    const problems: string[] = [];
    if (token === '' || !URL_SAFE.test(token)) problems.push('sse_token is not a URL-safe string (a client that forgets to encode it breaks the stream URL)');
    if (typeof body.expires_in !== 'number') problems.push('expires_in is missing (clients cannot know when to ask again)');
    if (typeof body.stream_url !== 'string') problems.push('stream_url is missing (clients must build the URL themselves)');
    if (problems.length > 0) {
      return fail(
        `the token response is incomplete: ${problems.join('; ')}`,
        'frontends hard-code what the response should tell them and break when it changes',
        'answer {"sse_token": <URL-safe string>, "expires_in": <seconds>, "stream_url": <URL>, "generation_id": <id>}',
        evidence,
      );
    }
    if (String(body.generation_id) !== id) {
      return warn(`generation_id in the token response is ${JSON.stringify(body.generation_id)}, not ${id}`, 'return the id the token is for', evidence);
    }
    if (body.expires_in !== expected) {
      return warn(
        `expires_in is ${String(body.expires_in)} s, the profile expects ${expected} s`,
        'set profile.limits.tokenExpiresSeconds if that is intended',
        evidence,
      );
    }
    return pass(`200 with a URL-safe token of ${token.length} characters, expires_in ${expected} s and a stream_url`, evidence);
  },
};

/** The token answer's stream_url as evidence: its form, whether it held the token, and the URL the tool used (token shortened). */
function streamUrlEvidence(token: StreamToken): Evidence {
  return { streamUrlForm: token.shape.form, streamUrlHadToken: token.shape.tokenIncluded, streamUrl: redactStreamUrl(token.streamUrl) };
}

export const tokenStreamUrl: Rule = {
  id: 'token.stream-url',
  severity: 'warn',
  group: 'token',
  title: 'stream_url points at the stream for a browser too, not only for a client that knows the API root',
  why: 'a frontend that hands stream_url to EventSource resolves it against the page; a path relative to the API root (or to nothing) then misses the API and the stream 404s',
  profiles: ['generations'],
  async run(ctx) {
    const first = await ctx.firstToken();
    if (!first.ok) return skip(first.reason);
    const { result } = first.value;
    if (!result.ok) return skip('no usable token answer: see token.issue');
    const given = String((result.exchange.json as { stream_url?: unknown }).stream_url ?? '');
    const { form, tokenIncluded } = result.token.shape;
    const evidence = streamUrlEvidence(result.token);
    const resolved = new URL(result.token.streamUrl);
    const path = given.split('?')[0];
    const withToken = tokenIncluded ? 'with the token in it' : 'without the token (sse-doctor added ?token=, as seed 002\'s frontend does)';
    if (form === 'api-root-relative' || form === 'path-relative') {
      const browserSees = form === 'api-root-relative' ? `${resolved.origin}${path}` : `${path} under whatever page the frontend is on`;
      return warn(
        `stream_url "${path}" is relative to the API root ${new URL(ctx.target.baseUrl).pathname}, ${withToken}: sse-doctor streamed from ${resolved.origin}${resolved.pathname}, ` +
          `but a browser that passes it to EventSource resolves it against the page, to ${browserSees}. ` +
          `Why it matters: a frontend that uses stream_url as given gets a 404, while one that prefixes the API root works (seed 002's frontend builds the URL itself)`,
        `answer with a path from the origin ("${resolved.pathname}") or an absolute URL, or document that clients prefix the API root`,
        evidence,
        'backend',
      );
    }
    const described = { absent: 'absent (the profile\'s stream path was used)', absolute: 'an absolute URL', 'origin-relative': 'a path from the origin' }[form];
    return pass(`stream_url is ${described}${form === 'absent' ? '' : `, ${withToken}`}`, evidence);
  },
};
