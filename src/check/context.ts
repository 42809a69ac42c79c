import type { Dispatcher } from 'undici';
import type { SecretSink } from '../engine/secrets.js';
import type { Clock } from '../engine/clock.js';
import { FATAL_TRANSPORT_KINDS, describeTransportFailure, type TransportFailureKind } from '../engine/connection.js';
import { terminalEventTest } from '../engine/contractEvents.js';
import { GenerationsApi, describeRefusal, type TokenResult } from '../engine/generationsApi.js';
import type { HttpExchange, HttpFailure } from '../engine/http.js';
import { waitForStatus } from '../engine/statusWait.js';
import type { Profile, TargetOptions } from '../engine/target.js';
import { recordStream, type RecordRequest, type RecordedStream, type RecordingEnv } from './recording.js';
import { sameSilence, silenceBeforeCut } from '../engine/silence.js';

/** The silence a recorded connection was cut after, if it was cut during one. */
function silenceOf({ result, events, comments }: RecordedStream): number | undefined {
  return silenceBeforeCut(result.open?.t, [...events.map((event) => event.t), ...comments], result.end, result.endedAt, result.terminalEvent !== undefined);
}

/** Streams cut during a silence: what tells an idle timeout in the path from a backend dropping them. */
export interface IdleCut {
  /** The silence before each cut seen (ms): the main stream's, then a second stream's when it was cut too. */
  readonly silencesMs: readonly number[];
  /** Cut twice after the same silence: an idle timeout somewhere in the path. */
  readonly repeated: boolean;
}

/** A value a rule needs, or why it is not there (the rule then skips with that reason). */
export type Available<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/**
 * Fixture generations, each with its own token budget (the token endpoint allows
 * `tokenRateLimit` requests per window per user and generation):
 * `completing` feeds the main stream and the terminal rules, `failing` the failure rules,
 * `spare` the token-use probes (single use, resume, expiry, cap), `rate` the rate-limit burst.
 */
export type FixtureRole = 'completing' | 'failing' | 'spare' | 'rate';

export interface Fixture {
  readonly role: FixtureRole;
  readonly id: string;
  /** When the create endpoint answered (ms on the run's clock). */
  readonly createdAt: number;
}

/** A generation in a terminal state, with what the status endpoint said about it. */
export interface TerminalGeneration {
  readonly id: string;
  readonly status: string;
  readonly errorMessage: string | undefined;
}

/** A fresh stream URL: for the generations profile, with a token just issued. */
export interface StreamTicket {
  readonly url: string;
  readonly generationId: string | undefined;
  readonly tokenExchange: HttpExchange | undefined;
}

/** The full recording of a stream from its start, shared by the rules that only observe it. */
export interface ObservedStream {
  readonly ticket: StreamTicket;
  readonly recording: RecordedStream;
  /** When the generation was created (undefined for a plain URL): history before it may be replayed. */
  readonly createdAt: number | undefined;
}

export interface CheckSettings {
  readonly target: TargetOptions;
  readonly dispatcher: Dispatcher;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly slow: boolean;
  /** Existing generations to use instead of waiting for fixtures to finish. */
  readonly completedId: string | undefined;
  readonly failedId: string | undefined;
  /** Told every stream token issued, for the output's redaction. */
  readonly secrets?: SecretSink;
}

/**
 * What rules share: the API, fixtures created once, and observations made once (the main
 * stream, the failing stream) so that rules that only look do not each open a connection.
 */
export class CheckContext {
  readonly target: TargetOptions;
  readonly profile: Profile;
  readonly api: GenerationsApi;
  readonly clock: Clock;
  readonly slow: boolean;
  readonly env: RecordingEnv;
  /** Set when the target did not answer at all; the run then ends with exit 3. */
  unreachable: string | undefined;
  /** Ids of the generations used, by role: reported so a backend team can find them in its logs. */
  readonly fixtureIds: Record<string, string> = {};
  /** Fixtures that could not be made: the rules needing them skip, and the run cannot pass. */
  readonly fixtureProblems: string[] = [];
  private readonly stopper = new AbortController();
  private readonly memo = new Map<string, Promise<unknown>>();

  constructor(private readonly settings: CheckSettings) {
    this.target = settings.target;
    this.profile = settings.target.profile;
    this.api = new GenerationsApi(settings.target, { dispatcher: settings.dispatcher, clock: settings.clock, secrets: settings.secrets });
    this.clock = settings.clock;
    this.slow = settings.slow;
    this.env = {
      dispatcher: settings.dispatcher,
      clock: settings.clock,
      signal: AbortSignal.any([settings.signal, this.stopper.signal]),
      headers: settings.target.headers,
      maxLineBytes: settings.target.maxLineBytes,
      headersTimeoutMs: settings.target.headersTimeoutMs,
      isTerminal: terminalEventTest(settings.target.profile),
      followRedirects: settings.target.followRedirects,
    };
  }

  get signal(): AbortSignal {
    return this.env.signal;
  }

  /** The stream URL of the generic profile: `--url`, or the profile's stream path. */
  get plainStreamUrl(): string {
    return this.target.streamUrl ?? this.api.url('stream');
  }

  /** Records that the target is unreachable and stops every rule still waiting on it. */
  markUnreachable(where: string, failure: Pick<HttpFailure, 'failure' | 'code'>): void {
    // After Ctrl-C our own abort cuts requests short: that says nothing about the target.
    if (this.settings.signal.aborted) return;
    this.unreachable ??= `${where}: ${describeTransportFailure(failure.failure, failure.code)}`;
    this.stopper.abort();
  }

  /** Turns an HTTP failure into a skip reason, flagging the run when the target is gone. */
  failureReason(where: string, failure: HttpFailure): string {
    if (!this.signal.aborted && blocksEverything(failure.failure, failure.code, true)) this.markUnreachable(where, failure);
    return `${where}: ${describeTransportFailure(failure.failure, failure.code)}`;
  }

  /** A generation created for `role`, once per run. */
  generation(role: FixtureRole): Promise<Available<Fixture>> {
    return this.once(`generation:${role}`, async () => {
      if (!this.profile.usesTokens) return { ok: false, reason: 'the generic profile has no generations' };
      const prompt = role === 'failing' ? this.profile.fixtures.failingPrompt : this.profile.fixtures.completingPrompt;
      const created = await this.api.create(prompt, this.signal);
      if (!created.ok) {
        const reason =
          'failure' in created
            ? this.failureReason(`create ${this.api.url('create')}`, created.failure)
            : `could not create the ${role} fixture: ${describeRefusal(created, 'create')} (check --auth and profile.fixtures)`;
        this.fixtureProblems.push(reason);
        return { ok: false, reason };
      }
      const { id } = created;
      this.fixtureIds[role] = id;
      return { ok: true, value: { role, id, createdAt: this.clock.now() } };
    });
  }

  /** A generation that has reached `outcome`: from `--completed-id`/`--failed-id`, or a fixture followed to its end. */
  terminalGeneration(outcome: 'completed' | 'failed'): Promise<Available<TerminalGeneration>> {
    return this.once(`terminal:${outcome}`, async () => {
      const given = outcome === 'completed' ? this.settings.completedId : this.settings.failedId;
      let id = given;
      if (id === undefined) {
        const fixture = await this.generation(outcome === 'completed' ? 'completing' : 'failing');
        if (!fixture.ok) return fixture;
        id = fixture.value.id;
      }
      const terminal = await this.waitForTerminal(id);
      if (terminal.ok && terminal.value.status !== outcome) {
        const source = given !== undefined ? `--${outcome}-id ${given}` : `the ${outcome === 'completed' ? 'completing' : 'failing'} fixture`;
        const reason = `${source} ended "${terminal.value.status}", not "${outcome}" (check profile.fixtures prompts)`;
        this.fixtureProblems.push(reason);
        return { ok: false, reason };
      }
      if (!terminal.ok) {
        if (!this.signal.aborted) this.fixtureProblems.push(terminal.reason);
        return terminal;
      }
      if (given !== undefined) this.fixtureIds[outcome] = id;
      return terminal;
    });
  }

  /** Polls the status endpoint until the generation is terminal, within the profile's generation timeout. */
  async waitForTerminal(id: string): Promise<Available<TerminalGeneration>> {
    const { generationTimeoutSeconds } = this.profile.limits;
    const wait = await waitForStatus(this.api, id, this.profile.terminal.statuses, { clock: this.clock, signal: this.signal, deadline: this.clock.now() + generationTimeoutSeconds * 1000 });
    if (wait.reached) return { ok: true, value: { id, status: wait.state.status, errorMessage: wait.state.errorMessage } };
    if (wait.why === 'answer') {
      const { answer } = wait;
      if ('failure' in answer) return { ok: false, reason: this.failureReason(`status ${this.api.url('status', id)}`, answer.failure) };
      return { ok: false, reason: `${describeRefusal(answer, 'status')} for generation ${id}` };
    }
    if (wait.why === 'aborted') return { ok: false, reason: 'stopped' };
    return { ok: false, reason: `generation ${id} was still "${wait.last?.status}" after ${generationTimeoutSeconds} s (profile.limits.generationTimeoutSeconds)` };
  }

  /** A stream URL ready to open: a fresh token for `role`'s generation, or the plain URL. */
  async streamTicket(role: FixtureRole): Promise<Available<StreamTicket>> {
    if (!this.profile.usesTokens) return { ok: true, value: { url: this.plainStreamUrl, generationId: undefined, tokenExchange: undefined } };
    const fixture = await this.generation(role);
    if (!fixture.ok) return fixture;
    return this.ticketFrom(fixture.value.id, await this.api.requestToken(fixture.value.id, { signal: this.signal }));
  }

  /** The first token request for the completing fixture, as the token endpoint answered it; it feeds the main stream. */
  firstToken(): Promise<Available<{ readonly id: string; readonly result: TokenResult }>> {
    return this.once('token:first', async () => {
      const fixture = await this.generation('completing');
      if (!fixture.ok) return fixture;
      return { ok: true, value: { id: fixture.value.id, result: await this.api.requestToken(fixture.value.id, { signal: this.signal }) } };
    });
  }

  /** A token answer as a stream URL, or why there is none. */
  ticketFrom(id: string, token: TokenResult): Available<StreamTicket> {
    if ('failure' in token) return { ok: false, reason: this.failureReason(`token ${this.api.url('token', id)}`, token.failure) };
    if (!token.ok) {
      return { ok: false, reason: `${describeRefusal(token, 'token')} for generation ${id} (see token.issue)` };
    }
    return { ok: true, value: { url: token.token.streamUrl, generationId: id, tokenExchange: token.exchange } };
  }

  /** The completing generation's stream (or the plain URL), recorded from start to end, once. */
  mainStream(): Promise<Available<ObservedStream>> {
    return this.once('stream:main', () => this.observe('completing'));
  }

  /** The failing generation's stream, recorded from start to end, once. */
  failingStream(): Promise<Available<ObservedStream>> {
    return this.once('stream:failing', () => this.observe('failing'));
  }

  /**
   * Whether the main stream was cut during a silence and, if so, whether a second stream was cut
   * after the same silence (the failing generation's, which ran alongside, or a fresh one).
   */
  idleCut(): Promise<IdleCut | undefined> {
    return this.once('idle-cut', async () => {
      const main = await this.mainStream();
      const first = main.ok ? silenceOf(main.value.recording) : undefined;
      if (first === undefined) return undefined;
      const second = await this.secondCut();
      return { silencesMs: second === undefined ? [first] : [first, second], repeated: second !== undefined && sameSilence(first, second) };
    });
  }

  private async secondCut(): Promise<number | undefined> {
    if (this.profile.usesTokens) {
      const failing = await this.failingStream();
      const cut = failing.ok ? silenceOf(failing.value.recording) : undefined;
      if (cut !== undefined) return cut;
    }
    const ticket = await this.streamTicket('spare');
    return ticket.ok ? silenceOf(await this.record({ url: ticket.value.url, ...this.followBounds })) : undefined;
  }

  /** Records one connection with the run's environment. */
  record(req: RecordRequest): Promise<RecordedStream> {
    return recordStream(this.env, req);
  }

  /** Bounds for a stream followed to its end: long enough for a slow server, never forever. */
  get followBounds(): Pick<RecordRequest, 'silenceTimeoutMs' | 'maxDurationMs' | 'closeAfterTerminalMs'> {
    const { limits, client } = this.profile;
    return {
      // Long enough to measure a missing heartbeat, short enough not to hang on a dead stream.
      silenceTimeoutMs: Math.max(client.silenceSeconds, 3 * limits.heartbeatSeconds) * 1000,
      maxDurationMs: Math.min(limits.generationTimeoutSeconds, limits.streamMaxSeconds + limits.closeAfterTerminalSeconds * 2 + 5) * 1000,
      // Past the limit, so that a late EOF is measured rather than cut at the limit itself.
      closeAfterTerminalMs: limits.closeAfterTerminalSeconds * 1500,
    };
  }

  /** Unique per-run memo: every fixture and observation is made at most once. */
  once<T>(key: string, make: () => Promise<T>): Promise<T> {
    let promise = this.memo.get(key) as Promise<T> | undefined;
    if (promise === undefined) {
      promise = make();
      this.memo.set(key, promise);
    }
    return promise;
  }

  /** Stops every rule still running (the run is over or the target is gone). */
  stop(): void {
    this.stopper.abort();
  }

  private async observe(role: FixtureRole): Promise<Available<ObservedStream>> {
    const first = role === 'completing' && this.profile.usesTokens ? await this.firstToken() : undefined;
    if (first !== undefined && !first.ok) return first;
    const ticket = first?.ok ? this.ticketFrom(first.value.id, first.value.result) : await this.streamTicket(role);
    if (!ticket.ok) return ticket;
    const fixture = this.profile.usesTokens ? await this.generation(role) : undefined;
    const recording = await this.record({ url: ticket.value.url, ...this.followBounds });
    const { end } = recording.result;
    // Behind a token endpoint that answered, a stream that hangs up early is a finding; as the first contact it blocks everything.
    const firstContact = !this.profile.usesTokens;
    const failure = end.kind === 'timeout' ? { failure: 'timeout' as const, code: end.code } : 'message' in end ? { failure: end.kind, code: end.code } : undefined;
    if (failure !== undefined && blocksEverything(failure.failure, failure.code, firstContact)) this.markUnreachable(recording.url, failure);
    return { ok: true, value: { ticket: ticket.value, recording, createdAt: fixture?.ok ? fixture.value.createdAt : undefined } };
  }
}

/**
 * Failures after which no rule can be exercised: nothing there, TLS or HTTP not spoken as asked,
 * or a hang-up before any answer. A connect timeout is as unreachable as a refusal.
 */
function blocksEverything(kind: TransportFailureKind, code: string, firstContact: boolean): boolean {
  return FATAL_TRANSPORT_KINDS.includes(kind) || (firstContact && kind === 'closed-before-answer') || code === 'UND_ERR_CONNECT_TIMEOUT';
}
