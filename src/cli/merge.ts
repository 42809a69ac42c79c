import type { Command } from 'commander';
import type { SetExitCode } from './commands.js';
import type { CliContext } from './context.js';

interface MergeFlags {
  json?: boolean;
  html?: string;
  threshold?: string[];
  out?: string;
}

export function registerMerge(program: Command, context: CliContext, setExitCode: SetExitCode): void {
  program
    .command('merge')
    .description('combine load parts written by --shard i/n into one report (histograms merged exactly)')
    .argument('<parts...>', 'part files (sse-doctor load --shard i/n --part FILE)')
    .option('--json', 'machine-readable output on stdout')
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .option('--threshold <expr...>', "CI gate, e.g. 'p95(firstEvent)<500ms' 'rate429<0.05' (a missed one exits 1)")
    .option('--out <file>', 'also write the merged part (to merge again later)')
    .action(async (files: string[], flags: MergeFlags) => {
      const { parseThreshold } = await import('../load/thresholds.js');
      const thresholds = (flags.threshold ?? []).map(parseThreshold);
      const { merge } = await import('../commands/merge.js');
      setExitCode(
        await merge(
          Object.freeze({ files, outFile: flags.out, thresholds, json: flags.json === true, htmlFile: flags.html, color: context.colorStdout }),
          { stdout: context.stdout, stderr: context.stderr },
        ),
      );
    });
}
