import { Writable } from 'node:stream';
import { buildProgram } from '../../src/cli/commands.js';
import type { CliContext } from '../../src/cli/context.js';
import { Redactor } from '../../src/engine/secrets.js';

/** What argv parsed into, or the one-line error commander or the options step gave instead. */
export type Parsed = { readonly options: unknown } | { readonly error: string };

/** A context that connects to nothing: output goes to `stderr` (or nowhere), no terminal, no colour. */
export function quietContext(env: NodeJS.ProcessEnv = {}, stderr: NodeJS.WritableStream = new Writable({ write: (_chunk, _encoding, done) => done() })): CliContext {
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  return {
    stdout: sink,
    stderr,
    env,
    colorStdout: false,
    colorStderr: false,
    stderrIsTty: false,
    stdin: process.stdin,
    signal: new AbortController().signal,
    secrets: new Redactor(),
    stdoutFlow: { ready: () => true, onReady: (resume) => resume() },
    writeFile: () => undefined,
  };
}

/** Parses `sse-doctor <argv>` into the options its command would run with; nothing runs, nothing connects. */
export async function parseArgv(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Parsed> {
  let errors = '';
  const stderr = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      errors += chunk.toString();
      done();
    },
  });
  const context = quietContext(env, stderr);
  let parsed: Parsed | undefined;
  const program = buildProgram('0.0.0', context, async (_spec, options) => {
    parsed = { options };
  });
  try {
    await program.parseAsync(['node', 'sse-doctor', ...argv]);
  } catch (error) {
    return { error: (errors.split('\n')[0] || (error as Error).message).trim() };
  }
  if (parsed === undefined) throw new Error(`no command ran for ${argv.join(' ')}`);
  return parsed;
}
