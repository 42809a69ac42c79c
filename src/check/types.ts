import type { Profile } from '../engine/target.js';
import type { CheckContext } from './context.js';

/** `error` rules fail the run; `warn` rules only warn (unless `--strict`). */
export type RuleSeverity = 'error' | 'warn';

/** Where a finding's cause most likely sits, and so whose fix it is. */
export type Layer = 'backend' | 'proxy' | 'client';

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
  /** For a failure or warning: what to change, in the words of the layer it belongs to. */
  readonly fix?: string;
  /** For a failure or warning: where the cause sits, when it is not the rule's usual layer. */
  readonly layer?: Layer;
  /** Overrides the rule's severity for this outcome (a contract convention broken where the contract does not apply is only a warning). */
  readonly severity?: RuleSeverity;
}

/** One contract rule with a stable id: data plus one async check over shared fixtures. */
export interface Rule {
  readonly id: string;
  readonly severity: RuleSeverity;
  readonly group: RuleGroup;
  readonly title: string;
  /** Where its findings usually sit (default `backend`); an outcome may name another. */
  readonly layer?: Layer;
  /**
   * A convention of the generations contract rather than of SSE (a trace id, its 5 s heartbeat):
   * under any other profile the rule only warns.
   */
  readonly contractConvention?: boolean;
  /** Why the rule matters to a user of the backend: what breaks when it fails (`check --list` prints it). */
  readonly why: string;
  /** Runs only with `--slow` (or when named exactly in `--only`). */
  readonly slow?: boolean;
  /** Needs a second identity (`--other-auth`). */
  readonly needsOtherAuth?: boolean;
  /** Kinds of profile the rule applies to: `generic` stands for every profile without tokens (generic, openai), which run only rules about any SSE endpoint. */
  readonly profiles: readonly ('generations' | 'generic')[];
  run(ctx: CheckContext): Promise<RuleOutcome>;
}

/** A rule's outcome as reported: the `--json` result schema. */
export interface RuleResult {
  readonly id: string;
  readonly severity: RuleSeverity;
  readonly status: RuleOutcome['status'];
  readonly title: string;
  readonly message: string;
  /** Set for failures and warnings: where the cause most likely sits, and the fix there. */
  readonly layer: Layer | undefined;
  readonly fix: string | undefined;
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
  /**
   * True when no error rule failed (and, with `strict`, no warning either), at least one rule was
   * exercised, every fixture was made and the run was not interrupted.
   */
  readonly ok: boolean;
  /** Stopped by Ctrl-C before every rule finished. */
  readonly interrupted: boolean;
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

/** A warning: what is off and the fix, at `layer` when that is not the rule's own. */
export function warn(what: string, fix: string, evidence: Evidence = {}, layer?: Layer): RuleOutcome {
  return { status: 'warn', message: `${what}. Fix: ${fix}.`, evidence, fix, layer };
}

/** A failure that teaches: what is wrong, why it hurts, the fix (at `layer` when that is not the rule's own). */
export function fail(wrong: string, why: string, fix: string, evidence: Evidence = {}, layer?: Layer): RuleOutcome {
  return { status: 'fail', message: `${wrong}. Why it hurts: ${why}. Fix: ${fix}.`, evidence, fix, layer };
}
