/** Where the contract's endpoints live, relative to the base URL; `{id}` stands for a generation id. */
export interface ProfilePaths {
  create: string;
  status: string;
  token: string;
  stream: string;
}

/** The contract's numbers (CONTRACT.md); checks read them from here, never from literals. */
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

/** What makes an event terminal: any of its status, stage or SSE event type. */
export interface ProfileTerminal {
  statuses: string[];
  stages: string[];
  eventTypes: string[];
}

/** Prompts the create endpoint receives for check and replay fixtures. */
export interface ProfileFixtures {
  completingPrompt: string;
  failingPrompt: string;
}

/** The client policy of CONTRACT.md ("The client policy the contract expects"). */
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
  name: 'generations' | 'generic';
  /** Whether streams are reached through the token endpoint (generations) or opened directly (generic). */
  usesTokens: boolean;
  paths: ProfilePaths;
  limits: ProfileLimits;
  terminal: ProfileTerminal;
  fixtures: ProfileFixtures;
  client: ProfileClient;
}

export const PROFILE_NAMES = ['generations', 'generic'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

const contractLimits: ProfileLimits = {
  heartbeatSeconds: 5,
  firstEventSeconds: 1,
  closeAfterTerminalSeconds: 2,
  streamMaxSeconds: 60,
  tokenRateLimit: 10,
  tokenRateWindowSeconds: 60,
  tokenExpiresSeconds: 60,
  generationTimeoutSeconds: 120,
};

const contractClient: ProfileClient = {
  retryDelaysSeconds: [2, 4, 8, 16, 32],
  maxRetries: 5,
  jitter: 0,
  silenceSeconds: 15,
  rateLimitFallbackSeconds: 60,
  stopStatuses: [400, 401, 403, 404, 422],
};

const contractPaths: ProfilePaths = {
  create: '/generations/generate',
  status: '/generations/{id}',
  token: '/generations/generate/{id}/stream-token',
  stream: '/generations/generate/{id}/stream',
};

const contractTerminal: ProfileTerminal = {
  statuses: ['completed', 'failed', 'cancelled'],
  stages: ['complete', 'terminal', 'error', 'timeout'],
  eventTypes: [],
};

const contractFixtures: ProfileFixtures = {
  completingPrompt: 'Write a short poem about resilient streams.',
  failingPrompt: 'Please fail this generation on purpose (sse-doctor fixture).',
};

export const BUILTIN_PROFILES: Readonly<Record<ProfileName, Profile>> = {
  generations: {
    name: 'generations',
    usesTokens: true,
    paths: contractPaths,
    limits: contractLimits,
    terminal: contractTerminal,
    fixtures: contractFixtures,
    client: contractClient,
  },
  // Seed 001: typed events content_chunk/heartbeat/complete/error, no token step.
  generic: {
    name: 'generic',
    usesTokens: false,
    paths: { ...contractPaths, stream: '/generic/stream' },
    limits: contractLimits,
    terminal: { ...contractTerminal, eventTypes: ['complete', 'error'] },
    fixtures: contractFixtures,
    client: contractClient,
  },
};
