import type { Profile, ProfileClient, ProfileFixtures, ProfileLimits, ProfilePaths, ProfileTerminal } from '../engine/target.js';

export const PROFILE_NAMES = ['generations', 'generic', 'openai'] as const;
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
  data: [],
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
    // `[DONE]` too: any SSE URL may be an LLM stream, and no other stream sends that as its data.
    terminal: { ...contractTerminal, eventTypes: ['complete', 'error'], data: ['[DONE]'] },
    fixtures: contractFixtures,
    client: contractClient,
  },
  // OpenAI-style chat completion chunks: the stream ends with `data: [DONE]`, and an error
  // arrives as an `error` event (or a JSON body with "error") before the close.
  openai: {
    name: 'openai',
    usesTokens: false,
    paths: { ...contractPaths, stream: '/v1/chat/completions' },
    limits: contractLimits,
    terminal: { statuses: [], stages: [], eventTypes: ['error'], data: ['[DONE]'] },
    fixtures: contractFixtures,
    client: contractClient,
  },
};
