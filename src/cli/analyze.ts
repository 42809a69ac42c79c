import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { parseDurationMs, parseNonNegativeInteger, resolveTargetOptions } from '../options/options.js';
import type { SetExitCode } from './commands.js';
import type { CliContext } from './context.js';

interface AnalyzeFlags {
  format?: string;
  profile?: string;
  config?: string;
  json?: boolean;
  html?: string;
  clientModel?: string;
  shortStream?: string;
  atOnce?: string;
  stormMin?: string;
}

export function registerAnalyze(program: Command, context: CliContext, setExitCode: SetExitCode): void {
  program
    .command('analyze')
    .description('read HAR files and access logs of an incident: retry storms, 429 windows, backend bugs, with evidence lines')
    .argument('<file...>', 'HAR, nginx or uvicorn access log, application log or JSON lines; - reads standard input')
    .option('--format <format>', 'force the format: har, nginx, uvicorn, applog, jsonl (default: detected per file)')
    .option('--profile <name>', 'contract profile: generations or generic')
    .option('--config <file>', 'config file (default ./sse-doctor.config.json; logFields maps a JSON log)')
    .option('--short-stream <duration>', 'a stream shorter than this without a terminal event is short', '1s')
    .option('--at-once <duration>', "a retry sooner than this is \"at once\" (default: half the profile's first retry delay)")
    .option('--storm-min <n>', 'retries at once for one generation that make a storm', '10')
    .option('--json', 'findings, figures and per-client summaries as JSON on stdout')
    .option('--html <file>', 'also write a self-contained HTML page with the timeline')
    .option('--client-model <file>', 'write the measured client behaviour as a client model for load/replay --client-model')
    .action(async (files: string[], flags: AnalyzeFlags) => {
      const { LOG_FORMATS } = await import('../analyze/record.js');
      if (flags.format !== undefined && !(LOG_FORMATS as readonly string[]).includes(flags.format)) {
        throw new UsageError(`--format: unknown format "${flags.format}" (expected one of ${LOG_FORMATS.join(', ')})`);
      }
      const { profile, logFields } = resolveTargetOptions({ profile: flags.profile, config: flags.config }, context.env);
      const { defaultAnalyzeSettings } = await import('../analyze/analyzer.js');
      const defaults = defaultAnalyzeSettings(profile);
      const stormMin = parseNonNegativeInteger(flags.stormMin ?? '10', '--storm-min');
      if (stormMin < 1) throw new UsageError('--storm-min: must be at least 1');
      const { analyze } = await import('../commands/analyze.js');
      setExitCode(
        await analyze(
          Object.freeze({
            files,
            format: flags.format as (typeof LOG_FORMATS)[number] | undefined,
            profile,
            settings: Object.freeze({
              shortStreamMs: parseDurationMs(flags.shortStream ?? '1s', '--short-stream'),
              atOnceMs: flags.atOnce === undefined ? defaults.atOnceMs : parseDurationMs(flags.atOnce, '--at-once'),
              stormMinRequests: stormMin,
            }),
            jsonFields: logFields ?? {},
            json: flags.json === true,
            htmlFile: flags.html,
            clientModelFile: flags.clientModel,
            color: context.colorStdout,
          }),
          { stdout: context.stdout, stderr: context.stderr, stdin: context.stdin },
        ),
      );
    });
}
