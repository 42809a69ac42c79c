import { checkOutputPath } from './outputFiles.js';
import type { Command } from 'commander';
import type { MergeOptions } from '../commands/merge.js';
import type { Threshold } from '../load/thresholds.js';
import type { CommandSpec } from './context.js';
import { addThresholdOption } from './load.js';

interface MergeFlags {
  json?: boolean;
  html?: string;
  threshold?: Threshold[];
  out?: string;
}

export const mergeCommand: CommandSpec<MergeOptions> = {
  define: (program: Command) =>
    addThresholdOption(
      program
        .command('merge')
        .description('combine load parts written by --shard i/n into one report (histograms merged exactly)')
        .argument('<parts...>', 'part files (sse-doctor load --shard i/n --part FILE)')
        .option('--json', 'machine-readable output on stdout')
        .option('--html <file>', 'also write a self-contained HTML report with charts')
        .option('--out <file>', 'also write the merged part (to merge again later)'),
    ),
  options: ({ args, flags }, context) => {
    const mergeFlags = flags as MergeFlags;
    return Object.freeze({
      files: Object.freeze([...(args[0] as string[])]),
      outFile: mergeFlags.out === undefined ? undefined : checkOutputPath(mergeFlags.out, '--out'),
      thresholds: Object.freeze([...(mergeFlags.threshold ?? [])]),
      json: mergeFlags.json === true,
      htmlFile: mergeFlags.html === undefined ? undefined : checkOutputPath(mergeFlags.html, '--html'),
      color: context.colorStdout,
    });
  },
  run: async (options, context) => {
    const { merge } = await import('../commands/merge.js');
    return merge(options, context);
  },
};
