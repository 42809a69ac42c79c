import type { ChalkInstance } from 'chalk';
import type { Rule } from '../check/types.js';

/** A rule as `check --list --json` prints it. */
export interface ListedRule {
  readonly id: string;
  readonly severity: Rule['severity'];
  readonly group: Rule['group'];
  readonly title: string;
  readonly why: string;
  readonly slow: boolean;
  readonly needsOtherAuth: boolean;
  readonly profiles: readonly string[];
}

function listed(rule: Rule): ListedRule {
  return {
    id: rule.id,
    severity: rule.severity,
    group: rule.group,
    title: rule.title,
    why: rule.why,
    slow: rule.slow === true,
    needsOtherAuth: rule.needsOtherAuth === true,
    profiles: rule.profiles,
  };
}

/** `check --list --json`: one array of every rule, a stable schema (docs/schemas/check-list.schema.json). */
export function renderRuleListJson(rules: readonly Rule[]): string {
  return `${JSON.stringify(rules.map(listed), null, 2)}\n`;
}

/** `check --list`: each rule's id and what it checks, then why it matters, indented. */
export function renderRuleList(rules: readonly Rule[], c: ChalkInstance): string {
  return rules
    .map((rule) => {
      const tags = [rule.severity === 'warn' ? 'warning' : undefined, rule.slow ? 'slow' : undefined, rule.needsOtherAuth ? 'needs --other-auth' : undefined, rule.profiles.join('/')]
        .filter((tag) => tag !== undefined)
        .join(', ');
      return `${c.bold(rule.id)}  ${rule.title} ${c.dim(`(${tags})`)}\n    why: ${rule.why}\n`;
    })
    .join('');
}
