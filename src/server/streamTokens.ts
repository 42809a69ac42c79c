import { randomBytes } from 'node:crypto';

interface IssuedToken {
  readonly generationId: string;
  readonly expiresAt: number;
}

/**
 * Single-use stream tokens. Every token lives the same `ttlMs`, so insertion order is expiry
 * order and expired ones are swept from the front of the map in amortised O(1).
 */
export class StreamTokens {
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(private readonly ttlMs: number) {}

  issue(generationId: string): string {
    const now = performance.now();
    this.sweep(now);
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, { generationId, expiresAt: now + this.ttlMs });
    return token;
  }

  /**
   * Whether `token` opens a stream of `generationId`: issued for it, not expired, not used.
   * A redeemed token is spent unless `reusable` (the `reusable-token` fault).
   */
  redeem(token: string, generationId: string, reusable: boolean): boolean {
    const now = performance.now();
    this.sweep(now);
    const issued = this.tokens.get(token);
    if (!issued || issued.generationId !== generationId || issued.expiresAt <= now) return false;
    if (!reusable) this.tokens.delete(token);
    return true;
  }

  private sweep(now: number): void {
    for (const [token, issued] of this.tokens) {
      if (issued.expiresAt > now) return;
      this.tokens.delete(token);
    }
  }
}

/** The verdict on one token request: let through, or refused with the seconds to wait. */
export type RateVerdict = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

/**
 * The seed's sliding-window limit: at most `limit` requests per `windowMs` per key. Refused
 * requests are not counted, so a client that waits `Retry-After` gets through.
 */
export class TokenRateLimit {
  private readonly requests = new Map<string, number[]>();
  private lastSweep = performance.now();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  check(key: string): RateVerdict {
    const now = performance.now();
    this.sweepIdleKeys(now);
    const times = this.requests.get(key) ?? [];
    while (times.length > 0 && (times[0] as number) <= now - this.windowMs) times.shift();
    if (times.length >= this.limit) {
      const oldest = times[0] ?? now;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((oldest + this.windowMs - now) / 1000)) };
    }
    times.push(now);
    this.requests.set(key, times);
    return { allowed: true };
  }

  /** Once per window, forget keys with nothing left inside it, so memory follows active keys only. */
  private sweepIdleKeys(now: number): void {
    if (now - this.lastSweep < this.windowMs) return;
    this.lastSweep = now;
    for (const [key, times] of this.requests) {
      const newest = times[times.length - 1];
      if (newest === undefined || newest <= now - this.windowMs) this.requests.delete(key);
    }
  }
}
