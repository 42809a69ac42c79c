import type { EndKind } from '../engine/clientPolicy.js';
import { BulkRecorder, newHistogram, summarise, type LatencySummary } from '../load/histograms.js';
import type { Profile } from '../engine/target.js';
import { FINDING_IDS, FINDING_KINDS, type FindingId, type Layer } from './findings.js';
import { EndpointMatcher, detached, type AccessRecord, type KnownPath } from './record.js';
import { defaultAnalyzeSettings, type AnalyzeSettings } from './settings.js';


/** One line that shows a finding. */
export interface Evidence {
  readonly file: string;
  /** 1-based line, or for a HAR written on one line, the entry's number. */
  readonly line: number;
  readonly unit: 'line' | 'entry';
  /** The request in a few words, tokens left out. */
  readonly text: string;
}

export interface Finding {
  readonly id: FindingId;
  readonly layer: Layer;
  readonly title: string;
  /** What was measured, with its figures. */
  readonly summary: string;
  readonly why: string;
  readonly fix: string;
  /** Generations (client and id) it was seen for. */
  readonly scope: readonly string[];
  readonly occurrences: number;
  readonly evidence: readonly Evidence[];
}

/** A measured rate and where it was measured. */
export interface StormRate {
  readonly generation: string;
  readonly client: string;
  readonly requests: number;
  /** Undefined when the log has no times. */
  readonly perSecond: number | undefined;
  readonly seconds: number | undefined;
}

export interface AnalyzeFigures {
  readonly requests: number;
  readonly tokenRequests: number;
  readonly streams: number;
  readonly clients: number;
  readonly generations: number;
  /** Undefined when no line had a time. */
  readonly peakRequestsPerSecond: number | undefined;
  readonly peakRequestsPerSecondPerGeneration: number | undefined;
  readonly peakTokenRequestsPerGenerationPerMinute: number | undefined;
  readonly tokenRateLimit: { readonly requests: number; readonly windowSeconds: number };
  readonly rate429: number;
  /** Share of token answers that were 429, minute by minute (from the first timed line). */
  readonly rate429ByMinute: readonly { readonly minute: number; readonly tokenRequests: number; readonly rate429: number }[];
  readonly streamDurationMs: LatencySummary;
  readonly retriesPerClient: { readonly median: number; readonly max: number };
  readonly maxRetriesInRow: number;
  readonly policyMaxRetries: number;
  readonly naiveClientShare: number;
  readonly storms: readonly StormRate[];
}

export interface ClientSummary {
  readonly client: string;
  readonly generations: number;
  readonly requests: number;
  readonly tokenRequests: number;
  readonly streams: number;
  readonly retries: number;
  readonly maxRetriesInRow: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly naiveLike: boolean;
  readonly findings: readonly FindingId[];
}

/** What a client did after one kind of end: measured, for a client model. */
export interface EndBehaviour {
  /** Ends of this kind seen. */
  readonly seen: number;
  /** Of those, followed by another request for the same generation. */
  readonly retried: number;
  /** Median from the end to the next request (ms). */
  readonly delayMs: number | undefined;
  /**
   * Mean from the start of the ended attempt to the start of the next one (ms), over attempts that
   * ended within `shortStreamMs` of their start: the mean, not the median, since n attempts paced
   * by it take the time the recorded ones took (a storm's rate).
   */
  readonly intervalMs: number | undefined;
}

export interface MeasuredBehaviour {
  readonly ends: Readonly<Partial<Record<EndKind, EndBehaviour>>>;
  readonly maxRetriesInRow: number;
  /** Retries that sent Last-Event-ID, of retries after a stream. */
  readonly resumeShare: number | undefined;
  /** Streams that came after their own token request, of streams. */
  readonly freshTokenShare: number | undefined;
}

/** Requests over time by status class, for the HTML timeline. */
export interface Timeline {
  /** `s`: buckets are seconds from `originMs`; `requests`: the log has no times, buckets of `bucketSize` requests in order. */
  readonly unit: 's' | 'requests';
  readonly originMs: number | undefined;
  readonly bucketSize: number;
  /** [ok (2xx/3xx), 4xx, 429, 5xx, no answer] per bucket. */
  readonly buckets: readonly (readonly [number, number, number, number, number])[];
}

export interface AnalyzeResult {
  readonly findings: readonly Finding[];
  readonly figures: AnalyzeFigures;
  readonly clients: readonly ClientSummary[];
  readonly behaviour: MeasuredBehaviour;
  readonly timeline: Timeline;
}

const EVIDENCE_HEAD = 4;
const USED_TOKENS_KEPT = 8;
const SAMPLES = 512;
/** Short empty 200 streams in a row before they read as a terminal generation without further proof. */
const INFERRED_TERMINAL_RUN = 5;

/** Where a finding was seen: the record itself, its words built only for the few that are shown. */
interface Sighting {
  readonly record: AccessRecord;
  readonly file: string;
  readonly unit: Evidence['unit'];
  /** What the request alone does not say (the delay, the missing token); worded only if shown. */
  readonly note?: () => string;
}

// Words a sighting adds to its request, each built by a function of its own: a closure written in a
// hot method would make V8 allocate the variables it captures for every record, not only for the
// few sightings kept.
const afterDelayNote = (delayMs: number, retry: number, scheduledMs: number) => () => ` after ${formatMs(delayMs)} (retry ${retry}; the schedule says ${formatMs(scheduledMs)})`;
const closedAfterNote = (durationMs: number | undefined) => (durationMs === undefined ? undefined : () => `, closed after ${formatMs(durationMs)} with no event`);
const firstReconnectNote = (delayMs: number) => () => ` (first reconnect after ${formatMs(delayMs)})`;
const TOKEN_SENT_AGAIN_NOTE = () => ' (a single-use token sent again)';
const TOKEN_JUST_ISSUED_NOTE = () => ' (token issued just before)';
const NO_TOKEN_NOTE = () => ' (no token in the query)';

function toEvidence(sighting: Sighting): Evidence {
  return { file: sighting.file, line: sighting.record.line, unit: sighting.unit, text: `${describe(sighting.record)}${sighting.note?.() ?? ''}` };
}

/**
 * The first few occurrences and a count: constant memory however long the log is. Only the first
 * are kept: keeping the latest too would hold every client's recent lines past the young
 * generation, and a long log would spend its time in the garbage collector.
 */
class EvidenceTrail {
  count = 0;
  readonly head: Sighting[] = [];

  add(record: AccessRecord, file: string, unit: Evidence['unit'], note: (() => string) | undefined): void {
    this.count++;
    if (this.head.length < EVIDENCE_HEAD) this.head.push({ record, file, unit, note });
  }
}

/** A bounded sample whose median stands for the whole: every k-th value once it is full. */
class Samples {
  private readonly values: number[] = [];
  private seen = 0;

  add(value: number): void {
    this.seen++;
    if (this.values.length < SAMPLES) this.values.push(value);
    else if (this.seen % Math.ceil(this.seen / SAMPLES) === 0) this.values[this.seen % SAMPLES] = value;
  }

  median(): number | undefined {
    if (this.values.length === 0) return undefined;
    const sorted = [...this.values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }
}

/** The mean of every value added, in constant memory. */
class RunningMean {
  private total = 0;
  private count = 0;

  add(value: number): void {
    this.total += value;
    this.count++;
  }

  mean(): number | undefined {
    return this.count === 0 ? undefined : round(this.total / this.count);
  }
}

/** One client's requests for one generation: the timeline the findings are read from. */
class GenerationTrail {
  readonly findings = new Map<FindingId, EvidenceTrail>();
  requests = 0;
  retries = 0;
  retriesInRow = 0;
  maxRetriesInRow = 0;
  attemptStartMs: number | undefined;
  /** How the last attempt ended (undefined: none ended since the last retry), when, and when it started: fields, not an object per attempt. */
  lastEnd: EndKind | undefined;
  lastEndAtMs: number | undefined;
  lastEndAttemptStartMs: number | undefined;
  knownTerminal = false;
  shortEmptyRun = 0;
  shortEmptyRunEvidence: Sighting[] = [];
  window429UntilMs: number | undefined;
  tokenIssued = false;
  streamOpenUntilMs: number | undefined;
  /** The last few stream tokens sent: a reused single-use token is one of them. */
  readonly usedTokens: number[] = [];
  tokenTimes: number[] = [];
  tokenServedWithout429 = 0;
  saw429 = false;
  overLimitEvidence: Sighting | undefined;
  storm = 0;
  inStorm = false;
  stormRequests = 0;
  stormFirstMs: number | undefined;
  stormLastMs: number | undefined;
  retryDelays: number[] = [];
  firstRetryDelayMs: number | undefined;
  firstRetry: Sighting | undefined;
  second = NaN;
  inSecond = 0;
  peakPerSecond = 0;
  minute = NaN;
  tokensInMinute = 0;
  peakTokensPerMinute = 0;

  constructor(
    readonly client: string,
    readonly generation: string,
  ) {}

  /** The sighting is built only for the first few of each finding, the ones shown. */
  note(id: FindingId, record: AccessRecord, file: string, unit: Evidence['unit'], note?: () => string): void {
    let trail = this.findings.get(id);
    if (trail === undefined) this.findings.set(id, (trail = new EvidenceTrail()));
    trail.add(record, file, unit, note);
  }

  /** Whether a sighting of `id` now would be one of the few shown (the rest are only counted). */
  keeps(id: FindingId): boolean {
    const trail = this.findings.get(id);
    return trail === undefined || trail.head.length < EVIDENCE_HEAD;
  }

  noteSighting(id: FindingId, sighting: Sighting): void {
    this.note(id, sighting.record, sighting.file, sighting.unit, sighting.note);
  }
}

/** A client's answers by status: a handful of statuses, counted in a list scanned faster than a map is looked up. */
class StatusCounts {
  /** 0 for requests that got no answer: the list holds small integers only. */
  private readonly statuses: number[] = [];
  private readonly counts: number[] = [];

  add(status: number | undefined): void {
    const code = status ?? 0;
    const { statuses } = this;
    for (let i = 0; i < statuses.length; i++) {
      if (statuses[i] === code) {
        this.counts[i]!++;
        return;
      }
    }
    statuses.push(code);
    this.counts.push(1);
  }

  /** `none` for requests that got no answer. */
  byStatus(): Record<string, number> {
    return Object.fromEntries(this.statuses.map((code, i) => [code === 0 ? 'none' : String(code), this.counts[i]!]));
  }
}

/** A path a client sent and, once it led to one, the trail of the generation its id names. */
interface Route {
  readonly known: KnownPath;
  trail: GenerationTrail | undefined;
}

interface ClientTotals {
  requests: number;
  tokenRequests: number;
  streams: number;
  /** By generation id. */
  readonly trails: Map<string, GenerationTrail>;
  readonly statuses: StatusCounts;
  /**
   * The client's last two paths: a client alternates its token and stream paths, so most lines
   * find their endpoint and trail here, compared as strings, with no map looked up.
   */
  lastRoute: Route | undefined;
  otherRoute: Route | undefined;
}

function statusClass(status: number | undefined): 0 | 1 | 2 | 3 | 4 {
  if (status === undefined) return 4;
  if (status === 429) return 2;
  if (status >= 500) return 3;
  if (status >= 400) return 1;
  return 0;
}

const ORDER_BUCKET = 50;

/**
 * Reads records one at a time and keeps only per-client and per-generation state (plus one
 * counter per second of log time): a multi-gigabyte log costs what its clients cost.
 */
export class Analyzer {
  private readonly matcher: EndpointMatcher;
  private readonly trails: GenerationTrail[] = [];
  private readonly clientTotals = new Map<string, ClientTotals>();
  private readonly perSecond = new Map<number, [number, number, number, number, number]>();
  private readonly inOrder: [number, number, number, number, number][] = [];
  private lastSecond = NaN;
  private lastBucket: [number, number, number, number, number] | undefined;
  private readonly streamDurations = new BulkRecorder(newHistogram());
  private readonly endDelays = new Map<EndKind, { seen: number; retried: number; delays: Samples; intervals: RunningMean }>();
  private file = '';
  private unit: Evidence['unit'] = 'line';
  private resolutionMs = 1;
  private sequence = 0;
  private requests = 0;
  private tokenRequests = 0;
  private streams = 0;
  private token429 = 0;
  private retriesAfterStream = 0;
  private resumedRetries = 0;
  private streamsAfterToken = 0;

  constructor(
    private readonly profile: Profile,
    private readonly settings: AnalyzeSettings = defaultAnalyzeSettings(profile),
  ) {
    this.matcher = new EndpointMatcher(profile.paths);
  }

  /** Records that follow come from this file, whose times resolve to `resolutionMs`. */
  beginFile(file: string, resolutionMs: number, unit: Evidence['unit'] = 'line'): void {
    this.file = file;
    this.unit = unit;
    this.resolutionMs = resolutionMs;
  }

  add(record: AccessRecord): void {
    this.requests++;
    this.sequence++;
    this.countInTimeline(record);
    const client = this.totalsOf(record.client);
    client.requests++;
    client.statuses.add(record.status);
    const route = this.routeOf(client, record.path);
    const { match } = route.known;
    // A CORS preflight asks permission for the request that follows; it is not an attempt of its own.
    if (match === undefined || match.endpoint === 'create' || record.method === 'OPTIONS') return;
    const id = match.generationId;
    const trail = id === undefined ? this.trailOf(record.client, record.generationHint ?? '(no id)', client) : (route.trail ??= this.trailOf(record.client, id, client));
    trail.requests++;
    this.countGenerationRate(trail, record, match.endpoint === 'token');
    if (match.endpoint === 'status') {
      if (record.saysTerminal) trail.knownTerminal = true;
      return;
    }
    if (match.endpoint === 'token') {
      this.tokenRequests++;
      client.tokenRequests++;
      this.beginAttempt(trail, record);
      this.tokenAnswer(trail, record);
      this.countStorm(trail, record);
    } else {
      this.streams++;
      client.streams++;
      // A stream straight after its token continues that attempt; one without a token request before it is a retry of its own.
      if (!trail.tokenIssued) this.beginAttempt(trail, record);
      else this.streamsAfterToken++;
      this.streamAnswer(trail, record);
      this.countStorm(trail, record);
    }
  }

  private sighting(record: AccessRecord, note?: () => string): Sighting {
    return { record, file: this.file, unit: this.unit, note };
  }

  private note(trail: GenerationTrail, id: FindingId, record: AccessRecord, note?: () => string): void {
    trail.note(id, record, this.file, this.unit, note);
  }

  private beginAttempt(trail: GenerationTrail, record: AccessRecord): void {
    const { profile, settings } = this;
    const startMs = record.startMs;
    const endKind = trail.lastEnd;
    const endAtMs = trail.lastEndAtMs;
    const endAttemptStartMs = trail.lastEndAttemptStartMs;
    trail.attemptStartMs = startMs;
    if (endKind === undefined) return;
    trail.lastEnd = undefined;
    trail.retries++;
    trail.retriesInRow++;
    trail.maxRetriesInRow = Math.max(trail.maxRetriesInRow, trail.retriesInRow);
    const delayMs = startMs === undefined || endAtMs === undefined ? undefined : Math.max(0, startMs - endAtMs);
    const measured = this.endDelaysOf(endKind);
    measured.retried++;
    if (delayMs !== undefined) measured.delays.add(delayMs);
    // An attempt the server kept long (a stream that ran) says how long the server took, not how fast the client
    // cycles: only attempts that ended at once give the pace a replay keeps against a server that ends them at once.
    if (startMs !== undefined && endAttemptStartMs !== undefined && endAtMs !== undefined && endAtMs - endAttemptStartMs < settings.shortStreamMs) {
      measured.intervals.add(Math.max(0, startMs - endAttemptStartMs));
    }
    if (endKind === 'stream-closed' || endKind === 'network') {
      this.retriesAfterStream++;
      if (record.lastEventId !== undefined) this.resumedRetries++;
    }

    if (endKind === 'terminal' || endKind === 'token-refused' || endKind === 'stream-refused') {
      if (endKind !== 'stream-refused' || trail.knownTerminal) this.note(trail, 'retry-after-terminal', record);
    }
    if (trail.window429UntilMs !== undefined && startMs !== undefined ? startMs < trail.window429UntilMs : endKind === 'rate-limited') {
      this.note(trail, 'inside-429-window', record);
    }
    if (trail.retriesInRow > profile.client.maxRetries) this.note(trail, 'too-many-retries', record);
    // At once: sooner than the threshold. Without times only the storm's signatures count: straight
    // after a 429 or an empty stream (seed 002's retries after 400s came 1-2 s apart).
    const atOnce =
      delayMs !== undefined ? delayMs <= Math.max(settings.atOnceMs, this.resolutionMs) : startMs === undefined && (endKind === 'rate-limited' || endKind === 'stream-closed');
    trail.inStorm = atOnce && endKind !== 'terminal';
    if (trail.inStorm) {
      trail.storm++;
      this.note(trail, 'retry-storm', record);
    }
    if (delayMs !== undefined && (endKind === 'stream-closed' || endKind === 'network' || endKind === 'server-error')) {
      if (trail.firstRetryDelayMs === undefined) {
        trail.firstRetryDelayMs = delayMs;
        trail.firstRetry = this.sighting(record);
      }
      if (trail.retryDelays.length < 8) trail.retryDelays.push(delayMs);
      const scheduled = (profile.client.retryDelaysSeconds[Math.min(trail.retriesInRow, profile.client.retryDelaysSeconds.length) - 1] ?? 0) * 1000;
      const floor = scheduled * (1 - profile.client.jitter) * 0.5;
      if (delayMs + this.resolutionMs < floor) {
        this.note(trail, 'no-backoff', record, trail.keeps('no-backoff') ? afterDelayNote(delayMs, trail.retriesInRow, scheduled) : undefined);
      }
    }
  }

  /** Every request after a retry at once, until a retry that waited: what a storm costs the backend. */
  private countStorm(trail: GenerationTrail, record: AccessRecord): void {
    if (!trail.inStorm) return;
    trail.stormRequests++;
    const at = record.startMs ?? record.endMs;
    if (at === undefined) return;
    trail.stormFirstMs ??= at;
    trail.stormLastMs = at;
  }

  private endAttempt(trail: GenerationTrail, kind: EndKind, record: AccessRecord): void {
    trail.lastEnd = kind;
    trail.lastEndAtMs = record.endMs ?? record.startMs;
    trail.lastEndAttemptStartMs = trail.attemptStartMs;
    this.endDelaysOf(kind).seen++;
  }

  private tokenAnswer(trail: GenerationTrail, record: AccessRecord): void {
    const { status } = record;
    const { profile } = this;
    if (status === 429) {
      this.token429++;
      trail.saw429 = true;
      const atMs = record.endMs ?? record.startMs;
      if (atMs !== undefined) trail.window429UntilMs = atMs + (record.retryAfterSeconds ?? profile.client.rateLimitFallbackSeconds) * 1000;
      this.endAttempt(trail, 'rate-limited', record);
      return;
    }
    if (status !== undefined && status < 300) {
      trail.tokenIssued = true;
      this.countServedToken(trail, record);
      return;
    }
    if (status !== undefined) this.countServedToken(trail, record);
    if (status === undefined) this.endAttempt(trail, 'network', record);
    else if (status >= 500) {
      if (trail.knownTerminal) this.note(trail, 'terminal-5xx', record);
      this.endAttempt(trail, 'server-error', record);
    } else {
      if (status === 400 || record.saysTerminal) trail.knownTerminal = true;
      this.endAttempt(trail, 'token-refused', record);
    }
  }

  /** Token answers other than 429 count against the limit: more than it inside one window means none came. */
  private countServedToken(trail: GenerationTrail, record: AccessRecord): void {
    const { tokenRateLimit, tokenRateWindowSeconds } = this.profile.limits;
    trail.tokenServedWithout429++;
    if (record.startMs === undefined) {
      if (trail.tokenServedWithout429 === tokenRateLimit + 1) trail.overLimitEvidence = this.sighting(record);
      return;
    }
    trail.tokenTimes.push(record.startMs);
    if (trail.tokenTimes.length > tokenRateLimit + 1) trail.tokenTimes.shift();
    const first = trail.tokenTimes[0]!;
    if (trail.tokenTimes.length === tokenRateLimit + 1 && record.startMs - first < tokenRateWindowSeconds * 1000) trail.overLimitEvidence ??= this.sighting(record);
  }

  private streamAnswer(trail: GenerationTrail, record: AccessRecord): void {
    const { status } = record;
    const hadToken = trail.tokenIssued;
    trail.tokenIssued = false;
    if (record.tokenHash !== undefined) {
      if (trail.usedTokens.includes(record.tokenHash) && status !== 429) this.note(trail, 'stream-without-token', record, TOKEN_SENT_AGAIN_NOTE);
      trail.usedTokens.push(record.tokenHash);
      if (trail.usedTokens.length > USED_TOKENS_KEPT) trail.usedTokens.shift();
    }
    if ((status === 422 || status === 401) && (hadToken || !record.hasToken)) {
      this.note(trail, 'stream-without-token', record, record.hasToken ? TOKEN_JUST_ISSUED_NOTE : NO_TOKEN_NOTE);
    }
    if (status === undefined) return this.endAttempt(trail, 'network', record);
    if (status === 429) return this.endAttempt(trail, 'rate-limited', record);
    if (status >= 500) {
      if (trail.knownTerminal) this.note(trail, 'terminal-5xx', record);
      return this.endAttempt(trail, 'server-error', record);
    }
    if (status >= 300) return this.endAttempt(trail, 'stream-refused', record);

    const durationMs = record.startMs !== undefined && record.endMs !== undefined ? record.endMs - record.startMs : undefined;
    if (durationMs !== undefined) this.streamDurations.recordMs(durationMs);
    if (record.startMs !== undefined && trail.streamOpenUntilMs !== undefined && record.startMs + this.resolutionMs < trail.streamOpenUntilMs) {
      this.note(trail, 'two-streams', record);
    }
    if (record.endMs !== undefined) trail.streamOpenUntilMs = record.endMs;
    if (record.terminalEvent) {
      trail.knownTerminal = true;
      trail.shortEmptyRun = 0;
      return this.endAttempt(trail, 'terminal', record);
    }
    if ((record.events ?? 0) > 0) trail.retriesInRow = 0;
    const shortEmpty = (record.events ?? 0) === 0 && (durationMs === undefined || durationMs < this.settings.shortStreamMs);
    if (shortEmpty) {
      if (trail.knownTerminal) this.note(trail, 'terminal-stream-200', record, trail.keeps('terminal-stream-200') ? closedAfterNote(durationMs) : undefined);
      else {
        trail.shortEmptyRun++;
        if (trail.shortEmptyRunEvidence.length < EVIDENCE_HEAD) trail.shortEmptyRunEvidence.push(this.sighting(record, closedAfterNote(durationMs)));
        if (trail.shortEmptyRun === INFERRED_TERMINAL_RUN) for (const seen of trail.shortEmptyRunEvidence) trail.noteSighting('terminal-stream-200', seen);
        else if (trail.shortEmptyRun > INFERRED_TERMINAL_RUN) this.note(trail, 'terminal-stream-200', record, trail.keeps('terminal-stream-200') ? closedAfterNote(durationMs) : undefined);
      }
    } else {
      trail.shortEmptyRun = 0;
      trail.shortEmptyRunEvidence = [];
    }
    this.endAttempt(trail, 'stream-closed', record);
  }

  private countInTimeline(record: AccessRecord): void {
    const at = record.startMs ?? record.endMs;
    let bucket: [number, number, number, number, number] | undefined;
    if (at === undefined) {
      const index = Math.floor((this.sequence - 1) / ORDER_BUCKET);
      bucket = this.inOrder[index] ??= [0, 0, 0, 0, 0];
    } else {
      const second = Math.floor(at / 1000);
      // Lines come in time order mostly: the last second's bucket is the one most often asked for.
      if (second === this.lastSecond) bucket = this.lastBucket!;
      else {
        bucket = this.perSecond.get(second);
        if (bucket === undefined) this.perSecond.set(second, (bucket = [0, 0, 0, 0, 0]));
        this.lastSecond = second;
        this.lastBucket = bucket;
      }
    }
    bucket[statusClass(record.status)]++;
  }

  private countGenerationRate(trail: GenerationTrail, record: AccessRecord, isToken: boolean): void {
    const at = record.startMs ?? record.endMs;
    if (at === undefined) return;
    const second = Math.floor(at / 1000);
    if (second !== trail.second) {
      trail.second = second;
      trail.inSecond = 0;
    }
    trail.peakPerSecond = Math.max(trail.peakPerSecond, ++trail.inSecond);
    if (!isToken) return;
    const minute = Math.floor(at / 60_000);
    if (minute !== trail.minute) {
      trail.minute = minute;
      trail.tokensInMinute = 0;
    }
    trail.peakTokensPerMinute = Math.max(trail.peakTokensPerMinute, ++trail.tokensInMinute);
  }

  private totalsOf(client: string): ClientTotals {
    let totals = this.clientTotals.get(client);
    if (totals === undefined) {
      totals = { requests: 0, tokenRequests: 0, streams: 0, trails: new Map(), statuses: new StatusCounts(), lastRoute: undefined, otherRoute: undefined };
      this.clientTotals.set(detached(client), totals);
    }
    return totals;
  }

  /** The route of a record's path: one of the client's last two, else a new one. */
  private routeOf(totals: ClientTotals, path: string): Route {
    const last = totals.lastRoute;
    if (last !== undefined && last.known.path === path) return last;
    const other = totals.otherRoute;
    totals.otherRoute = last;
    if (other !== undefined && other.known.path === path) return (totals.lastRoute = other);
    return (totals.lastRoute = { known: this.matcher.match(path), trail: undefined });
  }

  private trailOf(client: string, generation: string, totals: ClientTotals): GenerationTrail {
    let trail = totals.trails.get(generation);
    if (trail === undefined) {
      trail = new GenerationTrail(detached(client), detached(generation));
      totals.trails.set(trail.generation, trail);
      this.trails.push(trail);
    }
    return trail;
  }

  private endDelaysOf(kind: EndKind) {
    let measured = this.endDelays.get(kind);
    if (measured === undefined) this.endDelays.set(kind, (measured = { seen: 0, retried: 0, delays: new Samples(), intervals: new RunningMean() }));
    return measured;
  }

  finish(): AnalyzeResult {
    const { profile, settings } = this;
    const { trails } = this;
    for (const trail of trails) this.closeTrail(trail);
    this.noteLockstep(trails);
    const storms = trails
      .filter((trail) => trail.storm >= settings.stormMinRequests)
      .map((trail): StormRate => {
        const seconds = trail.stormFirstMs === undefined || trail.stormLastMs === undefined ? undefined : (trail.stormLastMs - trail.stormFirstMs) / 1000;
        // Rate over the gaps between the storm's requests: n requests span n - 1 of them.
        return { generation: trail.generation, client: trail.client, requests: trail.stormRequests, seconds, perSecond: seconds === undefined || seconds <= 0 ? undefined : round((trail.stormRequests - 1) / seconds) };
      })
      .sort((a, b) => (b.perSecond ?? 0) - (a.perSecond ?? 0) || b.requests - a.requests);
    const findings = this.collectFindings(trails, storms);
    const timeline = this.timeline();
    const clients = [...this.clientTotals.entries()].map(([client, totals]): ClientSummary => {
      const clientTrails = [...totals.trails.values()];
      const retries = clientTrails.reduce((sum, trail) => sum + trail.retries, 0);
      const ids = new Set<FindingId>();
      for (const trail of clientTrails) for (const id of trail.findings.keys()) if (isReported(id, trail, settings)) ids.add(id);
      return {
        client,
        generations: clientTrails.length,
        requests: totals.requests,
        tokenRequests: totals.tokenRequests,
        streams: totals.streams,
        retries,
        maxRetriesInRow: maxOf(clientTrails, (trail) => trail.maxRetriesInRow),
        statuses: totals.statuses.byStatus(),
        naiveLike: clientTrails.some((trail) => isNaiveLike(trail, settings)),
        findings: FINDING_IDS.filter((id) => ids.has(id)),
      };
    });
    const attempting = clients.filter((client) => client.tokenRequests + client.streams > 0);
    const retriesSorted = attempting.map((client) => client.retries).sort((a, b) => a - b);
    const timed = timeline.unit === 's';
    const figures: AnalyzeFigures = {
      requests: this.requests,
      tokenRequests: this.tokenRequests,
      streams: this.streams,
      clients: this.clientTotals.size,
      generations: new Set(trails.map((trail) => trail.generation)).size,
      peakRequestsPerSecond: timed ? maxOf(timeline.buckets, (bucket) => bucket.reduce((a, b) => a + b, 0)) : undefined,
      peakRequestsPerSecondPerGeneration: timed ? maxOf(trails, (trail) => trail.peakPerSecond) : undefined,
      peakTokenRequestsPerGenerationPerMinute: timed ? maxOf(trails, (trail) => trail.peakTokensPerMinute) : undefined,
      tokenRateLimit: { requests: profile.limits.tokenRateLimit, windowSeconds: profile.limits.tokenRateWindowSeconds },
      rate429: this.tokenRequests === 0 ? 0 : round(this.token429 / this.tokenRequests, 4),
      rate429ByMinute: this.rate429ByMinute(timeline),
      streamDurationMs: summarise(this.streamDurations.flushed()),
      retriesPerClient: { median: retriesSorted[Math.floor(retriesSorted.length / 2)] ?? 0, max: retriesSorted.at(-1) ?? 0 },
      maxRetriesInRow: maxOf(trails, (trail) => trail.maxRetriesInRow),
      policyMaxRetries: profile.client.maxRetries,
      naiveClientShare: attempting.length === 0 ? 0 : round(attempting.filter((client) => client.naiveLike).length / attempting.length, 4),
      storms,
    };
    return { findings, figures, clients, behaviour: this.behaviour(trails), timeline };
  }

  /** A trail's end-of-log checks: the token limit never enforced. */
  private closeTrail(trail: GenerationTrail): void {
    if (!trail.saw429 && trail.overLimitEvidence !== undefined) trail.noteSighting('no-429', trail.overLimitEvidence);
  }

  /** Many clients whose first reconnect came after the same delay (to the millisecond): no jitter. */
  private noteLockstep(trails: readonly GenerationTrail[]): void {
    const delayed = trails.filter((trail) => trail.firstRetryDelayMs !== undefined && trail.firstRetryDelayMs >= this.settings.atOnceMs);
    if (delayed.length < 3) return;
    const delays = delayed.map((trail) => trail.firstRetryDelayMs!).sort((a, b) => a - b);
    const median = delays[Math.floor(delays.length / 2)]!;
    const spread = delays.at(-1)! - delays[0]!;
    if (spread > Math.max(median * 0.02, 2 * this.resolutionMs)) return;
    for (const trail of delayed) {
      const first = trail.firstRetry!;
      const delayMs = trail.firstRetryDelayMs!;
      trail.note('no-jitter', first.record, first.file, first.unit, firstReconnectNote(delayMs));
    }
  }

  private collectFindings(trails: readonly GenerationTrail[], storms: readonly StormRate[]): Finding[] {
    const findings: Finding[] = [];
    for (const id of FINDING_IDS) {
      const involved = trails.filter((trail) => trail.findings.has(id) && isReported(id, trail, this.settings));
      if (involved.length === 0) continue;
      const kind = FINDING_KINDS[id];
      const occurrences = involved.reduce((sum, trail) => sum + trail.findings.get(id)!.count, 0);
      const evidence = involved.slice(0, 3).flatMap((trail) => {
        const seen = trail.findings.get(id)!;
        return seen.head.map(toEvidence);
      });
      findings.push({
        id,
        layer: kind.layer,
        title: kind.title,
        summary: this.summaryOf(id, involved, occurrences, storms),
        why: kind.why,
        fix: kind.fix,
        scope: involved.map((trail) => `${trail.client} ${trail.generation}`),
        occurrences,
        evidence,
      });
    }
    return findings;
  }

  private summaryOf(id: FindingId, involved: readonly GenerationTrail[], occurrences: number, storms: readonly StormRate[]): string {
    const generations = `${involved.length} generation${involved.length === 1 ? '' : 's'}`;
    const { profile } = this;
    switch (id) {
      case 'retry-storm': {
        const top = storms[0]!;
        const rate = top.perSecond === undefined ? 'the log has no times, so no rate: order and counts only' : `${top.perSecond} requests/s over ${top.seconds!.toFixed(1)} s`;
        return `${occurrences} retries at once (within ${formatMs(this.settings.atOnceMs)} of the end before) for ${generations}; worst: ${top.generation} from ${top.client}, ${top.requests} requests in the storm, ${rate}`;
      }
      case 'retry-after-terminal':
        return `${occurrences} request${occurrences === 1 ? '' : 's'} after a 400/404 or a terminal event, for ${generations}`;
      case 'inside-429-window':
        return `${occurrences} requests inside a 429's Retry-After window (${profile.client.rateLimitFallbackSeconds} s when absent), for ${generations}`;
      case 'no-backoff':
        return `${occurrences} reconnects sooner than half the profile's schedule (${profile.client.retryDelaysSeconds.join(', ')} s), for ${generations}`;
      case 'no-jitter':
        return `${involved.length} clients' first reconnects all came after the same delay`;
      case 'too-many-retries':
        return `up to ${maxOf(involved, (trail) => trail.maxRetriesInRow)} retries in a row (the policy allows ${profile.client.maxRetries}), for ${generations}`;
      case 'stream-without-token':
        return `${occurrences} stream requests refused for want of a (fresh) token, for ${generations}`;
      case 'two-streams':
        return `${occurrences} streams opened while another was open, for ${generations}`;
      case 'terminal-stream-200': {
        const known = involved.filter((trail) => trail.knownTerminal).length;
        const how = known === involved.length ? 'the log shows the generation was terminal' : `${involved.length - known} inferred from ${INFERRED_TERMINAL_RUN}+ empty 200 streams in a row (a live stream stays open until its terminal event)`;
        return `the backend answered 200 ${occurrences} times with a stream that closed without any event, for ${generations} (${how})`;
      }
      case 'no-429':
        return `more than ${profile.limits.tokenRateLimit} token requests in ${profile.limits.tokenRateWindowSeconds} s were served for ${generations}, and no 429 ever came`;
      case 'terminal-5xx':
        return `${occurrences} 5xx answers for generations already terminal, for ${generations}`;
    }
  }

  private timeline(): Timeline {
    if (this.perSecond.size === 0) return { unit: 'requests', originMs: undefined, bucketSize: ORDER_BUCKET, buckets: this.inOrder };
    const seconds = [...this.perSecond.keys()];
    const first = seconds.reduce((a, b) => Math.min(a, b));
    const last = seconds.reduce((a, b) => Math.max(a, b));
    const buckets: [number, number, number, number, number][] = [];
    for (let second = first; second <= last; second++) buckets.push(this.perSecond.get(second) ?? [0, 0, 0, 0, 0]);
    return { unit: 's', originMs: first * 1000, bucketSize: 1, buckets };
  }

  private rate429ByMinute(timeline: Timeline): AnalyzeFigures['rate429ByMinute'] {
    if (timeline.unit !== 's') return [];
    const minutes: { minute: number; tokenRequests: number; rate429: number }[] = [];
    for (let start = 0; start < timeline.buckets.length; start += 60) {
      const slice = timeline.buckets.slice(start, start + 60);
      const all = slice.reduce((sum, bucket) => sum + bucket.reduce((a, b) => a + b, 0), 0);
      const limited = slice.reduce((sum, bucket) => sum + bucket[2], 0);
      minutes.push({ minute: start / 60, tokenRequests: all, rate429: all === 0 ? 0 : round(limited / all, 4) });
    }
    return minutes;
  }

  private behaviour(trails: readonly GenerationTrail[]): MeasuredBehaviour {
    const ends: Partial<Record<EndKind, EndBehaviour>> = {};
    for (const [kind, measured] of this.endDelays) {
      ends[kind] = { seen: measured.seen, retried: measured.retried, delayMs: measured.delays.median(), intervalMs: measured.intervals.mean() };
    }
    return {
      ends,
      maxRetriesInRow: maxOf(trails, (trail) => trail.maxRetriesInRow),
      resumeShare: this.retriesAfterStream === 0 ? undefined : round(this.resumedRetries / this.retriesAfterStream, 4),
      freshTokenShare: this.streams === 0 ? undefined : round(this.streamsAfterToken / this.streams, 4),
    };
  }
}

/** Storm evidence counts only once a generation crosses the storm threshold. */
function isReported(id: FindingId, trail: GenerationTrail, settings: AnalyzeSettings): boolean {
  return id !== 'retry-storm' || trail.storm >= settings.stormMinRequests;
}

function isNaiveLike(trail: GenerationTrail, settings: AnalyzeSettings): boolean {
  return trail.storm >= settings.stormMinRequests || (trail.findings.has('retry-after-terminal') && trail.findings.has('inside-429-window'));
}

/** A request in a few words: method, path with the token left out, status. */
function describe(record: AccessRecord): string {
  return `${record.method} ${record.path}${record.hasToken ? '?token=…' : ''} → ${record.status ?? 'no answer'}`;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${round(ms / 1000, 1)} s` : `${Math.round(ms)} ms`;
}

/** The largest of `f` over `items` (0 for none), without spreading a long array onto the stack. */
function maxOf<T>(items: readonly T[], f: (item: T) => number): number {
  let max = 0;
  for (const item of items) max = Math.max(max, f(item));
  return max;
}

function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
