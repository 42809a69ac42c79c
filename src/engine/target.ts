/*
 * What the engines are given: where a run points and the contract profile it holds the target to.
 * Built and validated by `options/`; the engines only read it (so they never import `options/`).
 */

/** Where the contract's endpoints live, relative to the base URL; `{id}` stands for a generation id. */
export interface ProfilePaths {
  create: string;
  status: string;
  token: string;
  stream: string;
}

/** The contract's numbers (docs/contract.md); checks read them from here, never from literals. */
export interface ProfileLimits {
  heartbeatSeconds: number;
  firstEventSeconds: number;
  closeAfterTerminalSeconds: number;
  streamMaxSeconds: number;
  tokenRateLimit: number;
  tokenRateWindowSeconds: number;
  tokenExpiresSeconds: number;
  /** How long one generation may take end to end before a check gives up on it. */
  generationTimeoutSeconds: number;
}

/** What makes an event terminal: any of its status, stage, SSE event type or whole data. */
export interface ProfileTerminal {
  statuses: string[];
  stages: string[];
  eventTypes: string[];
  /** Data that ends a stream by itself, compared whole after trimming: OpenAI-style `[DONE]`. */
  data: string[];
}

/** Prompts the create endpoint receives for check and replay fixtures. */
export interface ProfileFixtures {
  completingPrompt: string;
  failingPrompt: string;
}

/** The client policy of docs/contract.md ("The client policy the contract expects"). */
export interface ProfileClient {
  retryDelaysSeconds: number[];
  maxRetries: number;
  /** 0 = none; 0.2 = each delay varies by up to ±20%. */
  jitter: number;
  silenceSeconds: number;
  rateLimitFallbackSeconds: number;
  stopStatuses: number[];
}

/** A contract profile: data, never code. */
export interface Profile {
  name: 'generations' | 'generic' | 'openai';
  /** Whether streams are reached through the token endpoint (generations) or opened directly (generic, openai). */
  usesTokens: boolean;
  paths: ProfilePaths;
  limits: ProfileLimits;
  terminal: ProfileTerminal;
  fixtures: ProfileFixtures;
  client: ProfileClient;
}

/** Where a run points and how it behaves: the one frozen object every command receives. */
export interface TargetOptions {
  /** Base URL of the API without a trailing slash, e.g. `http://127.0.0.1:8000/api`. */
  readonly baseUrl: string;
  /** A full SSE URL to open directly (`--url`, generic profile). */
  readonly streamUrl: string | undefined;
  readonly auth: string | undefined;
  readonly otherAuth: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly profile: Profile;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  /** Longest pending line the SSE decoder holds before calling the stream broken. */
  readonly maxLineBytes: number;
  /** `--insecure`: TLS certificates are not verified (said loudly on stderr by the CLI). */
  readonly insecure: boolean;
  /** `--follow-redirects`: follow 3xx answers, at most 5, never with a credential to another origin (`followRedirect`). */
  readonly followRedirects: boolean;
  /** Field names (dotted paths) of a JSON-lines log for `analyze`: time, client, method, path, status, durationMs, bytes, events. */
  readonly logFields?: Readonly<Record<string, string>>;
}
