import { UnreachableError } from '../errors.js';
import { systemClock, type Clock, type TimerId } from '../engine/clock.js';
import { createDispatcher } from '../engine/http.js';
import { redactStreamUrl, type SecretSink } from '../engine/secrets.js';
import type { Profile, TargetOptions } from '../engine/target.js';
import { CheckContext } from './context.js';
import { RULES } from './rules/index.js';
import { planRules } from './selection.js';
import type { CheckReport, Rule, RuleOutcome, RuleResult } from './types.js';

export interface CheckOptions {
  readonly target: TargetOptions;
  /** Ids or prefixes to run (empty: all) and to leave out. */
  readonly only: readonly string[];
  readonly skip: readonly string[];
  readonly slow: boolean;
  /** Warnings fail the run too. */
  readonly strict: boolean;
  readonly completedId: string | undefined;
  readonly failedId: string | undefined;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
  /** Told every stream token issued, for the output's redaction. */
  readonly secrets?: SecretSink;
  /** The rule set; tests may pass their own. */
  readonly rules?: readonly Rule[];
}

/** Progress of a run, for the spinner. The runner never prints. */
export interface CheckCallbacks {
  onPlan?(rules: readonly Rule[]): void;
  onRuleEnd?(result: RuleResult, pending: readonly Rule[]): void;
}

/**
 * Runs the selected rules concurrently over shared fixtures, so the suite takes about as long
 * as one generation. Findings are values in the report; only an unreachable target throws.
 */
export async function runCheck(options: CheckOptions, callbacks: CheckCallbacks = {}): Promise<CheckReport> {
  const clock = options.clock ?? systemClock;
  const { target } = options;
  const plan = planRules(options.rules ?? RULES, target.profile, {
    only: options.only,
    skip: options.skip,
    slow: options.slow,
    hasOtherAuth: target.otherAuth !== undefined,
  });
  callbacks.onPlan?.(plan.run);
  const startedAt = clock.now();
  const dispatcher = createDispatcher(target);
  const ctx = new CheckContext({
    target,
    dispatcher,
    clock,
    signal: options.signal ?? new AbortController().signal,
    slow: options.slow,
    completedId: options.completedId,
    failedId: options.failedId,
    secrets: options.secrets,
  });
  const pending = new Set(plan.run);
  const byId = new Map<string, RuleResult>();
  const result = (rule: Rule, outcome: RuleOutcome, durationMs: number) => toResult(rule, outcome, durationMs, target.profile.name);
  for (const { rule, reason } of plan.skipped) byId.set(rule.id, result(rule, { status: 'skip', message: reason, evidence: {} }, 0));
  try {
    await Promise.all(
      plan.run.map(async (rule) => {
        const ruleStartedAt = clock.now();
        const outcome = await withTimeout(rule.run(ctx), ruleTimeoutMs(target), rule, clock);
        // A rule cut short by Ctrl-C saw a connection we closed, not something the target did.
        const interrupted = options.signal?.aborted === true;
        const ended = result(rule, interrupted ? { status: 'skip', message: 'interrupted before this rule finished', evidence: {} } : outcome, clock.now() - ruleStartedAt);
        byId.set(rule.id, ended);
        pending.delete(rule);
        callbacks.onRuleEnd?.(ended, [...pending]);
      }),
    );
  } finally {
    ctx.stop();
    await dispatcher.destroy();
  }
  if (ctx.unreachable !== undefined) throw new UnreachableError(ctx.unreachable);

  const results = (options.rules ?? RULES).flatMap((rule) => byId.get(rule.id) ?? []);
  const count = (status: RuleResult['status']) => results.filter((result) => result.status === status).length;
  const failed = count('fail');
  const warnings = count('warn');
  const interrupted = options.signal?.aborted === true;
  const problems = [...new Set(ctx.fixtureProblems)];
  // Every rule skipped is not a pass: nothing was tested (issue 11: a green run against a plain-HTTP port).
  if (!interrupted && results.length > 0 && count('skip') === results.length) problems.push(`no rule could be exercised: all ${results.length} were skipped (first reason: ${results[0]?.message})`);
  return {
    summary: {
      profile: target.profile.name,
      target: target.profile.usesTokens ? target.baseUrl : redactStreamUrl(ctx.plainStreamUrl),
      total: results.length,
      passed: count('pass'),
      failed,
      warnings,
      skipped: count('skip'),
      strict: options.strict,
      ok: failed === 0 && (!options.strict || warnings === 0) && problems.length === 0 && !interrupted,
      interrupted,
      durationMs: Math.round(clock.now() - startedAt),
      fixtures: { ...ctx.fixtureIds },
      problems,
    },
    results,
  };
}

/**
 * A rule's outcome as reported: a failing warn-severity rule is a warning, and so is a broken
 * convention of the generations contract under another profile. Findings name their layer.
 */
function toResult(rule: Rule, outcome: RuleOutcome, durationMs: number, profile: Profile['name']): RuleResult {
  const severity = outcome.severity ?? (rule.contractConvention && profile !== 'generations' ? 'warn' : rule.severity);
  const status = outcome.status === 'fail' && severity === 'warn' ? 'warn' : outcome.status;
  const finding = status === 'fail' || status === 'warn';
  return {
    id: rule.id,
    severity,
    status,
    title: rule.title,
    message: outcome.message,
    layer: finding ? (outcome.layer ?? rule.layer ?? 'backend') : undefined,
    fix: finding ? outcome.fix : undefined,
    evidence: outcome.evidence,
    durationMs: Math.round(durationMs),
  };
}

/** Generous: every rule bounds its own waits; this only keeps a bug from hanging the run. */
export function ruleTimeoutMs(target: TargetOptions): number {
  const { limits } = target.profile;
  return (limits.generationTimeoutSeconds + limits.streamMaxSeconds + limits.tokenExpiresSeconds + limits.tokenRateWindowSeconds * 1.1 + 10) * 1000;
}

/** A rule's outcome, or a failure when it has not finished `timeoutMs` after it started (on `clock`). */
async function withTimeout(outcome: Promise<RuleOutcome>, timeoutMs: number, rule: Rule, clock: Clock): Promise<RuleOutcome> {
  let timer: TimerId | undefined;
  const timedOut = new Promise<RuleOutcome>((resolve) => {
    timer = clock.schedule(timeoutMs, () =>
      resolve({
        status: 'fail',
        message: `${rule.id} did not finish within ${Math.round(timeoutMs / 1000)} s: the target stalled (a request or stream that never answered nor ended)`,
        evidence: { timeoutMs },
      }),
    );
  });
  try {
    return await Promise.race([outcome, timedOut]);
  } finally {
    clock.cancel(timer);
  }
}
