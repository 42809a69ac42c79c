import type { Profile } from '../engine/target.js';
import type { CheckContext } from './context.js';

/** `error` rules fail the run; `warn` rules only warn (unless `--strict`). */
export type RuleSeverity = 'error' | 'warn';

/** Which endpoint a rule is about: reports group by it. */
export type RuleGroup = 'token' | 'stream';

/** What a rule saw, as plain JSON values: statuses, headers, timings, the trace id. */
export type Evidence = Readonly<Record<string, unknown>>;

/**
 * What one rule concluded. A `fail` message says what is wrong, why it hurts and the fix;
 * a `skip` message says why the rule could not run and how to make it run.
 */
export interface RuleOutcome {
  readonly status: 'pass' | 'fail' | 'warn' | 'skip';
  readonly message: string;
  readonly evidence: Evidence;
}

/** One contract rule with a stable id: data plus one async check over shared fixtures. */
export interface Rule {
  readonly id: string;
  readonly severity: RuleSeverity;
  readonly group: RuleGroup;
  readonly title: string;
  /** Why the rule matters to a user of the backend: what breaks when it fails (`check --list` prints it). */
  readonly why: string;
  /** Runs only with `--slow` (or when named exactly in `--only`). */
  readonly slow?: boolean;
  /** Needs a second identity (`--other-auth`). */
  readonly needsOtherAuth?: boolean;
  /** Profiles the rule applies to; the generic profile runs only rules about any SSE endpoint. */
  readonly profiles: readonly Profile['name'][];
  run(ctx: CheckContext): Promise<RuleOutcome>;
}

/** A rule's outcome as reported: the `--json` result schema. */
export interface RuleResult {
  readonly id: string;
  readonly severity: RuleSeverity;
  readonly status: RuleOutcome['status'];
  readonly title: string;
  readonly message: string;
  readonly evidence: Evidence;
  readonly durationMs: number;
}

/** Counts and verdict of a whole run. */
export interface CheckSummary {
  readonly profile: Profile['name'];
  /** The base URL or the (redacted) stream URL checked. */
  readonly target: string;
  readonly total: number;
  readonly passed: number;
  readonly failed: number;
  readonly warnings: number;
  readonly skipped: number;
  readonly strict: boolean;
  /** True when no error rule failed (and, with `strict`, no warning either). */
  readonly ok: boolean;
  readonly durationMs: number;
  /** Ids of the generations the run used, by fixture role. */
  readonly fixtures: Readonly<Record<string, string>>;
  /** Fixtures that could not be made (the rules needing them were skipped): the run cannot pass. */
  readonly problems: readonly string[];
}

/** A whole run: what reporters render. */
export interface CheckReport {
  readonly summary: CheckSummary;
  readonly results: readonly RuleResult[];
}

export const pass = (message: string, evidence: Evidence = {}): RuleOutcome => ({ status: 'pass', message, evidence });
export const skip = (message: string, evidence: Evidence = {}): RuleOutcome => ({ status: 'skip', message, evidence });
export const warn = (message: string, evidence: Evidence = {}): RuleOutcome => ({ status: 'warn', message, evidence });

/** A failure that teaches: what is wrong, why it hurts, the fix. */
export function fail(wrong: string, why: string, fix: string, evidence: Evidence = {}): RuleOutcome {
  return { status: 'fail', message: `${wrong}. Why it hurts: ${why}. Fix: ${fix}.`, evidence };
}
