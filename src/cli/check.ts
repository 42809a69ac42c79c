import { checkOutputPath } from './outputFiles.js';
import type { Command } from 'commander';
import type { CheckCommandOptions } from '../commands/check.js';
import { commaList } from '../options/parse.js';
import { addTargetOptions, targetFromFlags, type CommandSpec, type CommonFlags } from './context.js';

interface CheckFlags extends CommonFlags {
  only?: string[];
  skip?: string[];
  slow?: boolean;
  strict?: boolean;
  junit?: string;
  completedId?: string;
  failedId?: string;
  list?: boolean;
}

export const checkCommand: CommandSpec<CheckCommandOptions> = {
  define: (program: Command) =>
    addTargetOptions(
      program
        .command('check')
        .description('check the backend against the SSE contract: every rule, what is wrong, why it hurts, the fix')
        .option('--list', 'list the rules with their explanations, and run nothing')
        .option('--only <ids>', 'run only these rules: ids or prefixes, comma-separated (token.auth,stream.)', commaList)
        .option('--skip <ids>', 'leave out these rules: ids or prefixes, comma-separated', commaList)
        .option('--slow', 'include the slow rules (token expiry, duration cap, rate window reopening)')
        .option('--strict', 'warnings fail the run too')
        .option('--junit <file>', 'also write a JUnit XML report to <file>')
        .option('--completed-id <id>', 'an existing completed generation to use')
        .option('--failed-id <id>', 'an existing failed generation to use'),
    ),
  options: ({ flags }, context) => {
    const checkFlags = flags as CheckFlags;
    return Object.freeze({
      target: targetFromFlags(checkFlags, context),
      list: checkFlags.list === true,
      only: Object.freeze([...(checkFlags.only ?? [])]),
      skip: Object.freeze([...(checkFlags.skip ?? [])]),
      slow: checkFlags.slow === true,
      strict: checkFlags.strict === true,
      completedId: checkFlags.completedId,
      failedId: checkFlags.failedId,
      json: checkFlags.json === true,
      junitFile: checkFlags.junit === undefined ? undefined : checkOutputPath(checkFlags.junit, '--junit'),
      githubActions: context.env.GITHUB_ACTIONS === 'true',
      color: context.colorStdout,
    });
  },
  run: async (options, context) => {
    const { check } = await import('../commands/check.js');
    return check(options, context);
  },
};
