import { UsageError } from '../errors.js';
import type { Profile } from '../engine/target.js';
import type { Rule } from './types.js';

/** Which rules a run has: those it runs, and those it reports as skipped with the reason. */
export interface RulePlan {
  readonly run: readonly Rule[];
  readonly skipped: readonly { readonly rule: Rule; readonly reason: string }[];
}

export interface SelectionOptions {
  /** Ids or prefixes (`stream.`, `stream.token-`, or a group name `stream`). Empty = every rule. */
  readonly only: readonly string[];
  readonly skip: readonly string[];
  readonly slow: boolean;
  readonly hasOtherAuth: boolean;
}

/** Whether `selector` names `rule`: its id or a prefix of it. */
export function selects(selector: string, rule: Rule): boolean {
  return rule.id.startsWith(selector);
}

/**
 * Applies the profile, `--only`, `--skip`, `--slow` and the presence of a second identity.
 * A slow rule named by its exact id in `--only` runs without `--slow`: asking for it is enough.
 */
export function planRules(rules: readonly Rule[], profile: Profile, options: SelectionOptions): RulePlan {
  for (const [flag, selectors] of [['--only', options.only], ['--skip', options.skip]] as const) {
    for (const selector of selectors) {
      if (!rules.some((rule) => selects(selector, rule))) {
        throw new UsageError(`${flag}: no rule matches "${selector}" (ids look like token.auth or stream.heartbeat; prefixes like token. or stream.)`);
      }
    }
  }
  const chosen = rules.filter(
    (rule) =>
      rule.profiles.includes(profile.usesTokens ? 'generations' : 'generic') &&
      (options.only.length === 0 || options.only.some((selector) => selects(selector, rule))) &&
      !options.skip.some((selector) => selects(selector, rule)),
  );
  if (chosen.length === 0) throw new UsageError(`no rule of the ${profile.name} profile is selected (check --only and --skip)`);
  const run: Rule[] = [];
  const skipped: { rule: Rule; reason: string }[] = [];
  for (const rule of chosen) {
    if (rule.slow && !options.slow && !options.only.includes(rule.id)) {
      skipped.push({ rule, reason: 'slow rule: run with --slow to include it' });
    } else if (rule.needsOtherAuth && !options.hasOtherAuth) {
      skipped.push({ rule, reason: "needs a second user: pass --other-auth <that user's bearer> (or otherAuth in the config, or SSE_DOCTOR_OTHER_AUTH)" });
    } else {
      run.push(rule);
    }
  }
  return { run, skipped };
}
