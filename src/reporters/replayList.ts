import type { Scenario } from '../replay/scenario.js';

/** `replay --list`: one line per scenario, names aligned. */
export function replayList(scenarios: readonly Scenario[]): string {
  const width = Math.max(...scenarios.map((scenario) => scenario.name.length));
  return scenarios.map((scenario) => `${scenario.name.padEnd(width)}  ${scenario.description}\n`).join('');
}

/** `replay --list --json`: `[{name, description, defaultClients}]`. */
export function replayListJson(scenarios: readonly Scenario[]): string {
  return `${JSON.stringify(scenarios.map(({ name, description, defaultClients }) => ({ name, description, defaultClients })))}\n`;
}
