import { spawn } from 'node:child_process';
import { Chalk } from 'chalk';
import { colorFor } from './cli/context.js';
import { fileURLToPath } from 'node:url';
import { startReferenceServer, type FaultName, type ReferenceServer } from './server/referenceServer.js';

/**
 * `npm run demo`: the main job against the embedded reference server, as a user would type it.
 * Each step runs the real CLI in a child process and checks its exit code; the last steps
 * point it at a server with the seed's bug, where findings (exit 1) are the expected answer.
 */
interface DemoStep {
  readonly title: string;
  readonly server: 'compliant' | 'seed-bug';
  readonly args: readonly string[];
  readonly expectExit: number;
}

const SEED_BUG: FaultName[] = ['immediate-close'];
const ALICE = ['--auth', 'demo-alice'];

const steps: DemoStep[] = [
  { title: 'Follow a fresh generation to its terminal event', server: 'compliant', args: ['tail', ...ALICE], expectExit: 0 },
  { title: 'A generation that fails: its stream must say so, then close', server: 'compliant', args: ['tail', '--fail', ...ALICE], expectExit: 0 },
  { title: 'The contract suite, as CI runs it', server: 'compliant', args: ['check', ...ALICE, '--other-auth', 'demo-bob'], expectExit: 0 },
  ...['failed-generation', 'rate-limit-spam', 'network-cutoff', 'retry-storm', 'silent-stall'].map((scenario) => ({
    title: `Replay the incident: ${scenario}`,
    server: 'compliant' as const,
    args: ['replay', scenario, ...ALICE],
    expectExit: 0,
  })),
  {
    title: "The seed's bug (failed streams close silently): the retry storm, measured",
    server: 'seed-bug',
    args: ['replay', 'retry-storm', '--client', 'naive', ...ALICE],
    expectExit: 1,
  },
  {
    title: "The seed's bug, named by the contract suite",
    server: 'seed-bug',
    args: ['check', '--only', 'token.,stream.terminal-generation', ...ALICE, '--other-auth', 'demo-bob'],
    expectExit: 1,
  },
];

const c = new Chalk({ level: colorFor(process.stdout, process.env, false) ? 1 : 0 });
const bin = fileURLToPath(new URL('../../bin/sse-doctor.js', import.meta.url));
const servers: Record<DemoStep['server'], ReferenceServer> = {
  compliant: await startReferenceServer({ port: 0 }),
  'seed-bug': await startReferenceServer({ port: 0, faults: SEED_BUG }),
};
let failures = 0;
try {
  process.stdout.write(`reference server: ${servers.compliant.baseUrl}\nwith the seed's bug (--fault ${SEED_BUG.join(',')}): ${servers['seed-bug'].baseUrl}\n`);
  for (const step of steps) {
    const args = [...step.args, '--base-url', servers[step.server].baseUrl];
    process.stdout.write(`\n${c.bold(`▶ ${step.title}`)}\n$ sse-doctor ${args.join(' ')}\n\n`);
    const code = await run(args);
    const ok = code === step.expectExit;
    if (!ok) failures++;
    process.stdout.write(`${ok ? '✔' : '✖'} exit ${code}${ok ? (code === 0 ? '' : ' (findings, as expected)') : ` (expected ${step.expectExit})`}\n`);
  }
} finally {
  await Promise.all(Object.values(servers).map((server) => server.close()));
}
process.stdout.write(`\n${failures === 0 ? `demo ok: ${steps.length} steps` : `demo: ${failures} of ${steps.length} steps did not exit as expected`}\n`);
process.exitCode = failures === 0 ? 0 : 1;

function run(args: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: 'inherit' });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}
