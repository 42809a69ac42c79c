import type { Command } from 'commander';
import type { SetExitCode } from './commands.js';
import { addTargetOptions, targetFromFlags, type CliContext, type CommonFlags } from './context.js';

interface CheckFlags extends CommonFlags {
  only: string[];
  skip: string[];
  slow?: boolean;
  strict?: boolean;
  junit?: string;
  completedId?: string;
  failedId?: string;
}

/** `--only a,b --only c` -> ['a', 'b', 'c']. */
const collectList = (value: string, previous: string[]) => [...previous, ...value.split(',').map((item) => item.trim()).filter((item) => item !== '')];

export function registerCheck(program: Command, context: CliContext, setExitCode: SetExitCode): void {
  addTargetOptions(
    program
      .command('check')
      .description('check the backend against the SSE contract: every rule, what is wrong, why it hurts, the fix')
      .option('--only <ids>', 'run only these rules: ids or prefixes, comma-separated (token.auth,stream.)', collectList, [])
      .option('--skip <ids>', 'leave out these rules: ids or prefixes, comma-separated', collectList, [])
      .option('--slow', 'include the slow rules (token expiry, duration cap, rate window reopening)')
      .option('--strict', 'warnings fail the run too')
      .option('--junit <file>', 'also write a JUnit XML report to <file>')
      .option('--completed-id <id>', 'an existing completed generation to use')
      .option('--failed-id <id>', 'an existing failed generation to use'),
  ).action(async (flags: CheckFlags) => {
    const target = targetFromFlags(flags, context);
    const { check } = await import('../commands/check.js');
    setExitCode(
      await check(
        Object.freeze({
          target,
          only: Object.freeze([...flags.only]),
          skip: Object.freeze([...flags.skip]),
          slow: flags.slow === true,
          strict: flags.strict === true,
          completedId: flags.completedId,
          failedId: flags.failedId,
          json: flags.json === true,
          junitFile: flags.junit,
          githubActions: context.env.GITHUB_ACTIONS === 'true',
          color: context.colorStdout,
        }),
        { stdout: context.stdout, stderr: context.stderr, signal: context.signal },
      ),
    );
  });
}
