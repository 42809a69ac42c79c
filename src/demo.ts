import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startReferenceServer } from './server/referenceServer.js';

/**
 * `npm run demo`: the main job against the embedded reference server, as a user would type it.
 * Each step runs the real CLI in a child process and checks its exit code.
 */
interface DemoStep {
  readonly title: string;
  readonly args: (baseUrl: string) => string[];
  readonly expectExit: number;
}

const bin = fileURLToPath(new URL('../../bin/sse-doctor.js', import.meta.url));
const AUTH = ['--auth', 'demo-alice'];

const steps: DemoStep[] = [
  { title: 'Follow a fresh generation to its terminal event', args: (base) => ['tail', '--base-url', base, ...AUTH], expectExit: 0 },
  { title: 'A generation that fails: its stream must say so, then close', args: (base) => ['tail', '--fail', '--base-url', base, ...AUTH], expectExit: 0 },
];

const server = await startReferenceServer({ port: 0 });
let failures = 0;
try {
  process.stdout.write(`reference server: ${server.baseUrl}\n`);
  for (const step of steps) {
    const args = step.args(server.baseUrl);
    process.stdout.write(`\n\x1b[1m▶ ${step.title}\x1b[0m\n$ sse-doctor ${args.join(' ')}\n\n`);
    const code = await run(args);
    const ok = code === step.expectExit;
    if (!ok) failures++;
    process.stdout.write(`${ok ? '✔' : '✖'} exit ${code}${ok ? '' : ` (expected ${step.expectExit})`}\n`);
  }
} finally {
  await server.close();
}
process.stdout.write(`\n${failures === 0 ? 'demo ok' : `demo: ${failures} step(s) did not exit as expected`}\n`);
process.exitCode = failures === 0 ? 0 : 1;

function run(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: 'inherit' });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}
