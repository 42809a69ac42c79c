import { describe, expect, it } from 'vitest';
import type { CheckReport } from '../src/check/types.js';
import { FAULT_NAMES, type FaultName } from '../src/server/referenceServer.js';
import { atPace, FAST_TIMINGS, failures, fastProfile, fastTarget, idsWith, runFastCheck } from './helpers/checkTarget.js';
import { BACKENDS } from './helpers/realTargets.js';

/**
 * Each fault of the reference server and the rules it must break. `alsoMay` lists rules that
 * the same misbehaviour legitimately breaks too (buffered heartbeats are silences as well);
 * any other failing error rule is a false finding.
 */
const MATRIX: Record<FaultName, { fails: string[]; alsoMay?: string[]; timings?: Partial<typeof FAST_TIMINGS> }> = {
  'immediate-close': { fails: ['stream.terminal-generation', 'token.terminal-completed', 'token.terminal-failed'] },
  'no-rate-limit': { fails: ['token.rate-limit'] },
  // A longer generation: its silent thinking phase (serve: 1.2 s; FastAPI at its pace: 2.5 s) outlasts the heartbeat limit even when the check's stream connects late on a busy machine, and stays inside the client's silence watchdog.
  'no-heartbeat': { fails: ['stream.heartbeat'], timings: { generationMs: 1800 } },
  // The fault flushes every third of a generation: a longer one holds events back well past the limit.
  buffered: { fails: ['stream.no-buffering'], alsoMay: ['stream.heartbeat', 'stream.connected-first'], timings: { generationMs: 4000 } },
  'reusable-token': { fails: ['stream.token-single-use'] },
  linger: { fails: ['stream.close-after-terminal'] },
  'drop-mid-stream': { fails: ['stream.terminal-event', 'stream.clean-close'] },
  'terminal-500': { fails: ['token.terminal-failed'] },
  'no-resume': { fails: ['stream.resume'] },
  'wrong-content-type': { fails: ['stream.headers'] },
  'no-connected': { fails: ['stream.connected-first'] },
  'no-trace': { fails: ['stream.trace-id'] },
  'open-stream': { fails: ['stream.token-required', 'stream.token-invalid', 'stream.token-single-use'] },
  'no-auth': { fails: ['token.auth'] },
  'cross-user': { fails: ['token.owner'] },
};

/** Small batches: each fault gets its own server on port 0, a few run at once on a shared machine. */
const BATCH = 5;
describe.each(BACKENDS)('check against every fault of the %s backend', (_name, start, pace) => {
  const reports = new Map<FaultName, Promise<CheckReport>>();

  async function checkFault(fault: FaultName): Promise<CheckReport> {
    const { timings, limits } = atPace(pace, MATRIX[fault].timings);
    const server = await start({ faults: [fault], timings });
    try {
      return await runFastCheck(fastTarget(server.baseUrl, fastProfile(limits)));
    } finally {
      await server.close();
    }
  }

  /** Starts the faults in batches of `BATCH`; a test awaits only its own fault's report. */
  function reportFor(fault: FaultName): Promise<CheckReport> {
    if (reports.size === 0) {
      let previous: Promise<unknown> = Promise.resolve();
      // A slower backend runs fewer at once: its checks must not starve each other of CPU.
      const size = Math.max(1, Math.floor(BATCH / pace));
      for (let first = 0; first < FAULT_NAMES.length; first += size) {
        const batch = FAULT_NAMES.slice(first, first + size);
        const started = previous.then(() => batch.map((name) => checkFault(name)));
        batch.forEach((name, index) => reports.set(name, started.then((promises) => promises[index]!)));
        previous = started.then((promises) => Promise.allSettled(promises));
      }
    }
    return reports.get(fault)!;
  }

  it('covers every fault the server knows', () => {
    expect(Object.keys(MATRIX).sort()).toEqual([...FAULT_NAMES].sort());
  });

  it.each(Object.entries(MATRIX) as [FaultName, (typeof MATRIX)[FaultName]][])('%s breaks its rule and no unrelated error rule', async (fault, expected) => {
    const report = await reportFor(fault);
    const failed = idsWith(report, 'fail');
    for (const id of expected.fails) expect(failed, `${fault} must fail ${id}`).toContain(id);
    // Compared with their messages, so a false finding says what it was.
    const unrelated = Object.entries(failures(report)).filter(([id]) => !expected.fails.includes(id) && !expected.alsoMay?.includes(id));
    expect(Object.fromEntries(unrelated)).toEqual({});
    for (const result of report.results.filter((item) => item.status === 'fail')) {
      expect(result.message).toMatch(/\. Why it hurts: .+\. Fix: .+/);
    }
    expect(report.summary.ok).toBe(false);
    // A test waits for its whole batch, which started while earlier tests ran: a batch's time, at the backend's pace.
  }, 30_000 * pace);
});
