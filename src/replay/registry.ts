import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../errors.js';
import { CLIENT_MODELS } from '../engine/clientPolicy.js';
import type { Scenario } from './scenario.js';

/** The built-in scenarios, loaded lazily so `--help` stays fast. */
const BUILTIN_SCENARIOS: Readonly<Record<string, () => Promise<{ default: Scenario }>>> = {
  'failed-generation': () => import('../../scenarios/failed-generation.js'),
  'rate-limit-spam': () => import('../../scenarios/rate-limit-spam.js'),
  'network-cutoff': () => import('../../scenarios/network-cutoff.js'),
  'retry-storm': () => import('../../scenarios/retry-storm.js'),
  'silent-stall': () => import('../../scenarios/silent-stall.js'),
};

export const BUILTIN_SCENARIO_NAMES: readonly string[] = Object.keys(BUILTIN_SCENARIOS);

/** Every built-in scenario, in list order. */
export async function builtinScenarios(): Promise<Scenario[]> {
  return Promise.all(BUILTIN_SCENARIO_NAMES.map((name) => loadScenario(name)));
}

/** A path (it has a slash or a .js/.mjs ending) is a user's module; anything else a built-in name. */
function isModulePath(nameOrPath: string): boolean {
  return /[\\/]/.test(nameOrPath) || /\.m?js$/.test(nameOrPath);
}

/** A built-in scenario by name, or the default export of the module at a path. */
export async function loadScenario(nameOrPath: string, cwd: string = process.cwd()): Promise<Scenario> {
  if (!isModulePath(nameOrPath)) {
    const load = BUILTIN_SCENARIOS[nameOrPath];
    if (!load) throw new UsageError(`unknown scenario "${nameOrPath}" (known: ${BUILTIN_SCENARIO_NAMES.join(', ')}; or the path of a scenario module)`);
    return (await load()).default;
  }
  const path = resolve(cwd, nameOrPath);
  if (!existsSync(path)) throw new UsageError(`scenario module ${path} does not exist`);
  let loaded: { default?: unknown };
  try {
    loaded = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    throw new UsageError(`scenario module ${path} failed to load: ${(error as Error).message}`, { cause: error });
  }
  return checkScenario(loaded.default, path);
}

function checkScenario(value: unknown, where: string): Scenario {
  const candidate = value as Partial<Scenario> | undefined;
  const problem =
    typeof candidate !== 'object' || candidate === null ? 'no default export object'
    : typeof candidate.name !== 'string' ? '"name" is not a string'
    : typeof candidate.description !== 'string' ? '"description" is not a string'
    : typeof candidate.run !== 'function' ? '"run" is not a function'
    : !Array.isArray(candidate.defaultClients) || candidate.defaultClients.some((name) => !(CLIENT_MODELS as readonly string[]).includes(name))
      ? `"defaultClients" must list client models (${CLIENT_MODELS.join(', ')})`
      : undefined;
  if (problem) throw new UsageError(`${where}: not a scenario module (${problem}); export default { name, description, defaultClients, run }`);
  return candidate as Scenario;
}
