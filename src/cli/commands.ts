import type { Command } from 'commander';
import { registerCheck } from './check.js';
import type { CliContext } from './context.js';
import { registerJudge } from './judge.js';
import { registerLoad } from './load.js';
import { registerMerge } from './merge.js';
import { registerProxy } from './proxy.js';
import { registerReplay } from './replay.js';
import { registerServe } from './serve.js';
import { registerTail } from './tail.js';
import { registerToken } from './token.js';

/** Sets the process exit code; only `cli.ts` implements it. */
export type SetExitCode = (code: number) => void;

/** Each subcommand's flags live in `src/cli/<name>.ts`; its work in `src/commands/<name>.ts`, loaded lazily. */
export function registerCommands(program: Command, context: CliContext, setExitCode: SetExitCode): void {
  registerServe(program, context, setExitCode);
  registerToken(program, context, setExitCode);
  registerTail(program, context, setExitCode);
  registerCheck(program, context, setExitCode);
  registerReplay(program, context, setExitCode);
  registerProxy(program, context, setExitCode);
  registerLoad(program, context, setExitCode);
  registerMerge(program, context, setExitCode);
  registerJudge(program, context, setExitCode);
}
