import type { ProfilePaths } from '../engine/target.js';

/** The formats `analyze` reads; `--format` forces one. */
export const LOG_FORMATS = ['har', 'nginx', 'uvicorn', 'applog', 'jsonl'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The contract endpoints a request can be matched to. */
export type EndpointName = keyof ProfilePaths;

/**
 * One request as the analyzer reads it, built from a reader's `RecordFields` on its way over
 * (`recordBatch.ts`). Fields a format does not carry are undefined (uvicorn's default log has no
 * times, nginx no events).
 */
export interface AccessRecord {
  /** 1-based line of the file that shows it (for a HAR, the line of its entry). */
  readonly line: number;
  /** An IP, or a user or session where the log has one. */
  readonly client: string;
  readonly method: string;
  /** Path without the query. */
  readonly path: string;
  /** Whether the query carried a stream token. */
  readonly hasToken: boolean;
  /** A hash of the stream token, to see one reused without keeping it. */
  readonly tokenHash: number | undefined;
  /** Undefined: no answer (the request failed or was cut before its headers). */
  readonly status: number | undefined;
  /** Epoch ms (or ms from an arbitrary origin, the same for the whole file). */
  readonly startMs: number | undefined;
  readonly endMs: number | undefined;
  readonly bytes: number | undefined;
  /** Events a stream delivered, where the evidence shows them. */
  readonly events: number | undefined;
  /** A stream delivered a terminal event. */
  readonly terminalEvent: boolean;
  /** The answer's body says the generation is terminal (a status body, a 400's detail). */
  readonly saysTerminal: boolean;
  readonly retryAfterSeconds: number | undefined;
  readonly lastEventId: string | undefined;
  /** The generation a line without an id in its path belongs to (an application log's context). */
  readonly generationHint: string | undefined;
}

/**
 * One request as a log or a HAR shows it, what every reader turns its lines into: the target as
 * logged (path and query), the rest where known.
 */
export type RecordFields = Pick<AccessRecord, 'line' | 'client' | 'method' | 'status'> &
  Partial<Omit<AccessRecord, 'line' | 'client' | 'method' | 'status' | 'path' | 'hasToken' | 'tokenHash'>> & { readonly target: string };

/**
 * A hash of the first `token=` parameter's value in the query starting at `from`, read in place
 * (no substring per line); undefined when the query has none or it is empty.
 */
export function queryTokenHash(target: string, from: number): number | undefined {
  const tokenStart = tokenValueStart(target, from);
  const tokenEnd = tokenStart < 0 ? -1 : valueEnd(target, tokenStart);
  return tokenEnd > tokenStart ? hashToken(target, tokenStart, tokenEnd) : undefined;
}

const TOKEN_PARAMETER = 'token=';

/** Where the first `token=` parameter's value starts in the query from `from`; -1 when there is none. */
function tokenValueStart(target: string, from: number): number {
  for (let at = from; at < target.length; at = valueEnd(target, at) + 1) {
    if (holdsAt(target, TOKEN_PARAMETER, at)) return at + TOKEN_PARAMETER.length;
  }
  return -1;
}

function valueEnd(target: string, from: number): number {
  const ampersand = target.indexOf('&', from);
  return ampersand < 0 ? target.length : ampersand;
}

/** FNV-1a over `text` from `from` to `to`: enough to tell tokens apart in one log, and the token itself is never kept. */
function hashToken(text: string, from: number, to: number): number {
  let hash = 0x811c9dc5;
  for (let i = from; i < to; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/**
 * Whether `text` holds `part` at `from` (a method, `token=`, `rt=`): `startsWith` with a position
 * costs several times more on the substrings lines are.
 */
export function holdsAt(text: string, part: string, from: number): boolean {
  for (let i = part.length - 1; i >= 0; i--) if (text.charCodeAt(from + i) !== part.charCodeAt(i)) return false;
  return true;
}

/**
 * A copy of `text` that holds nothing else: V8 cuts a substring as a view of the string it came
 * from, so a kept key cut from a line would keep the whole chunk of the log that line was in.
 */
export function detached(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}

export interface EndpointMatch {
  readonly endpoint: EndpointName;
  /** The `{id}` captured; undefined for the create endpoint or an abbreviated path. */
  readonly generationId: string | undefined;
}

/** A path as the matcher knows it: a copy that holds nothing else, and the endpoint it names, if any. */
export interface KnownPath {
  readonly path: string;
  readonly match: EndpointMatch | undefined;
}

const MATCH_CACHE_SIZE = 100_000;
const ENDPOINT_ORDER: readonly EndpointName[] = ['create', 'token', 'stream', 'status'];

/**
 * Matches paths to the profile's endpoints with `{id}` captured, at the end of the path so any
 * prefix (`/api`, `/v2/api`) works. Logs that shorten a path to its last segment (the seed's
 * `POST /stream-token`) still match by that segment, without an id.
 */
export class EndpointMatcher {
  private readonly patterns: readonly { readonly endpoint: EndpointName; readonly full: RegExp; readonly lastSegment: string | undefined }[];

  constructor(paths: ProfilePaths) {
    this.patterns = ENDPOINT_ORDER.map((endpoint) => {
      const template = paths[endpoint];
      const source = template
        .split('{id}')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('([^/]+)');
      const last = template.split('/').pop();
      return { endpoint, full: new RegExp(`${source}/?$`), lastSegment: last === undefined || last.includes('{') ? undefined : `/${last}` };
    });
  }

  /** Paths repeat (one per generation and endpoint): each is matched by the patterns once. */
  private readonly cache = new Map<string, KnownPath>();

  match(path: string): KnownPath {
    const cached = this.cache.get(path);
    if (cached !== undefined) return cached;
    if (this.cache.size >= MATCH_CACHE_SIZE) this.cache.clear();
    // Matched on the copy, so the id it captures is cut from the copy too.
    const key = detached(path);
    const known: KnownPath = { path: key, match: this.matchPatterns(key) };
    this.cache.set(key, known);
    return known;
  }

  private matchPatterns(path: string): EndpointMatch | undefined {
    for (const pattern of this.patterns) {
      const found = pattern.full.exec(path);
      if (found) {
        const id = found[1];
        return { endpoint: pattern.endpoint, generationId: id === undefined || id === '{id}' || id === '{generation_id}' ? undefined : id };
      }
    }
    // Abbreviated paths: only endpoints whose last segment is literal and unique to them.
    const abbreviated = this.patterns.find((pattern) => pattern.endpoint !== 'create' && pattern.lastSegment === path);
    return abbreviated ? { endpoint: abbreviated.endpoint, generationId: undefined } : undefined;
  }
}
