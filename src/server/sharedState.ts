import { MAX_GENERATIONS, newGenerationRecord, type GenerationRecord } from './generationRecord.js';
import type { ServerTimings } from './settings.js';
import { StreamTokens, TokenRateLimit, type RateVerdict } from './streamTokens.js';

/**
 * What every process of the server must agree on, behind one authority: generation records,
 * single-use tokens, rate-limit verdicts and stream counts. One process holds it locally; the
 * workers of `serve --workers N` ask their primary for it (see `sharedStateRpc.ts`).
 */
export interface SharedState {
  createGeneration(owner: string, prompt: string): Promise<GenerationRecord>;
  generation(id: string): Promise<GenerationRecord | undefined>;
  issueToken(generationId: string): Promise<string>;
  /** Whether `token` opens a stream of `generationId`; spent unless `reusable` (see `StreamTokens.redeem`). */
  redeemToken(token: string, generationId: string, reusable: boolean): Promise<boolean>;
  checkRate(key: string): Promise<RateVerdict>;
  /** Counts one more stream opened on `generationId`; resolves to how many were opened before it. */
  countStream(generationId: string): Promise<number>;
}

/** The authority did not answer in time, or is gone: the request gets a 503, never a hang. */
export class SharedStateUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SharedStateUnavailable';
  }
}

interface StoredGeneration {
  readonly record: GenerationRecord;
  streamsOpened: number;
}

/** The shared state held in this process: the single server's, or the primary's for its workers. */
export class LocalSharedState implements SharedState {
  private readonly generations = new Map<string, StoredGeneration>();
  private readonly tokens: StreamTokens;
  private readonly rateLimit: TokenRateLimit;

  constructor(timings: ServerTimings) {
    this.tokens = new StreamTokens(timings.tokenTtlMs);
    this.rateLimit = new TokenRateLimit(timings.rateLimit, timings.rateWindowMs);
  }

  async createGeneration(owner: string, prompt: string): Promise<GenerationRecord> {
    if (this.generations.size >= MAX_GENERATIONS) {
      // Insertion order is age, so the first key is the oldest.
      const oldest = this.generations.keys().next().value;
      if (oldest !== undefined) this.generations.delete(oldest);
    }
    const record = newGenerationRecord(owner, prompt);
    this.generations.set(record.id, { record, streamsOpened: 0 });
    return record;
  }

  async generation(id: string): Promise<GenerationRecord | undefined> {
    return this.generations.get(id)?.record;
  }

  async issueToken(generationId: string): Promise<string> {
    return this.tokens.issue(generationId);
  }

  async redeemToken(token: string, generationId: string, reusable: boolean): Promise<boolean> {
    return this.tokens.redeem(token, generationId, reusable);
  }

  async checkRate(key: string): Promise<RateVerdict> {
    return this.rateLimit.check(key);
  }

  async countStream(generationId: string): Promise<number> {
    const stored = this.generations.get(generationId);
    if (!stored) return 0;
    return stored.streamsOpened++;
  }
}
