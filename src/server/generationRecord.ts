import { randomUUID } from 'node:crypto';

/**
 * What defines a generation, fixed at creation and held by the shared state: its whole timeline
 * follows from `createdAtMs` and `failing`, so any process can replay it.
 */
export interface GenerationRecord {
  readonly id: string;
  readonly owner: string;
  readonly prompt: string;
  /** Epoch milliseconds, the one clock every process of the server shares. */
  readonly createdAtMs: number;
  readonly failing: boolean;
}

/** A prompt naming the word `fail` makes a generation that fails (docs/contract.md "Fixtures"). */
const FAILING_PROMPT = /\bfail\b/i;

/** Generations kept in memory (records and each process's replicas); beyond this the oldest goes, so load runs stay bounded. */
export const MAX_GENERATIONS = 100_000;

/** A new generation's record: a prompt naming `fail` makes one that fails. */
export function newGenerationRecord(owner: string, prompt: string): GenerationRecord {
  return { id: randomUUID(), owner, prompt, createdAtMs: Date.now(), failing: FAILING_PROMPT.test(prompt) };
}
