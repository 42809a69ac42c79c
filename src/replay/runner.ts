import { DoctorError, UsageError } from '../errors.js';
import { systemClock, type Clock } from '../engine/clock.js';
import { clientLabel, type ClientChoice } from '../engine/clientPolicy.js';
import { createDispatcher } from '../engine/http.js';
import type { SecretSink } from '../engine/secrets.js';
import type { TargetOptions } from '../engine/target.js';
import { createScenarioContext } from './context.js';
import { loadScenario } from './registry.js';
import { DEFAULT_REPLAY_SETTINGS, type ReplayReport, type ReplaySettings, type Scenario } from './scenario.js';

/** What stops a replay, and the callbacks it reports through (it never writes anywhere itself). */
export interface ReplayHooks {
  /** Told every stream token issued, for the output's redaction. */
  readonly secrets?: SecretSink;
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  /** A scenario starts (for a spinner on stderr)… */
  readonly onScenarioStart?: (scenario: string, clients: readonly string[]) => void;
  /** …and ends with one report per client model (none when it threw). */
  readonly onScenarioEnd?: (scenario: Scenario, reports: readonly ReplayReport[]) => void;
}

/**
 * One scenario with each client model side by side (concurrently, each on its own generation).
 * Expectations decide the verdict: a client fails when any of its expectations is missed.
 */
export async function replayScenario(
  scenario: Scenario,
  target: TargetOptions,
  settings: ReplaySettings,
  dependencies: { readonly signal?: AbortSignal; readonly clock?: Clock; readonly secrets?: SecretSink } = {},
): Promise<ReplayReport[]> {
  const clients: readonly ClientChoice[] = settings.clients ?? scenario.defaultClients;
  const dispatcher = createDispatcher(target);
  const handle = createScenarioContext(target, settings, {
    dispatcher,
    clock: dependencies.clock ?? systemClock,
    signal: dependencies.signal ?? new AbortController().signal,
    secrets: dependencies.secrets,
  });
  try {
    // allSettled: a client that throws (unreachable, say) must not leave the others running on a closed dispatcher.
    const settled = await Promise.allSettled(
      clients.map(async (client): Promise<ReplayReport> => {
        const run = await scenario.run(handle.context, client);
        const interrupted = dependencies.signal?.aborted === true;
        const verdict = !interrupted && run.expectations.every((item) => item.met) ? 'pass' : 'fail';
        return { scenario: scenario.name, client: clientLabel(client), verdict, interrupted, expectations: run.expectations, metrics: run.metrics, details: run.details };
      }),
    );
    const failure = settled.find((result) => result.status === 'rejected');
    if (failure) throw scenarioError(scenario, failure.reason);
    return settled.map((result) => (result as PromiseFulfilledResult<ReplayReport>).value);
  } finally {
    await handle.close();
    await dispatcher.close();
  }
}

/**
 * Runs scenarios (built-in names or module paths) one after the other against `target`,
 * reporting each through `hooks.onScenarioEnd` as it finishes. Ctrl-C (`hooks.signal`) stops the
 * running scenario at once and skips the rest; the reports of what ran are still returned.
 */
export async function runScenarios(
  names: readonly string[],
  target: TargetOptions,
  hooks: ReplayHooks = {},
  settings: Partial<ReplaySettings> = {},
): Promise<ReplayReport[]> {
  if (!target.profile.usesTokens) throw new UsageError(`replay: the ${target.profile.name} profile has no token endpoint; the scenarios replay token-based incidents (use --profile generations)`);
  const resolved: ReplaySettings = { ...DEFAULT_REPLAY_SETTINGS, ...settings };
  const scenarios = await Promise.all(names.map((name) => loadScenario(name)));
  const reports: ReplayReport[] = [];
  for (const scenario of scenarios) {
    if (hooks.signal?.aborted) break;
    hooks.onScenarioStart?.(scenario.name, (resolved.clients ?? scenario.defaultClients).map(clientLabel));
    let scenarioReports: ReplayReport[] = [];
    try {
      scenarioReports = await replayScenario(scenario, target, resolved, hooks);
    } finally {
      hooks.onScenarioEnd?.(scenario, scenarioReports);
    }
    reports.push(...scenarioReports);
  }
  return reports;
}

/**
 * A scenario's own exception as one line naming where it was thrown (its first stack frame: the
 * scenario file and line), so a user's scenario bug reads as that, not as a crash of the tool.
 */
function scenarioError(scenario: Scenario, error: unknown): unknown {
  if (error instanceof DoctorError || !(error instanceof Error)) return error;
  const frame = /\((?:file:\/\/)?([^()]+:\d+):\d+\)|at (?:file:\/\/)?([^\s()]+:\d+):\d+/.exec(error.stack?.split('\n').slice(1).join('\n') ?? '');
  const where = frame?.[1] ?? frame?.[2];
  return new DoctorError('E_SCENARIO', `scenario ${scenario.name} threw ${error.name}: ${error.message}${where === undefined ? '' : ` (at ${where})`}`, { cause: error });
}
