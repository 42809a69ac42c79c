import { Option, type Command } from 'commander';
import { LOG_FORMATS, type LogFormat } from '../analyze/record.js';
import { defaultAnalyzeSettings } from '../analyze/settings.js';
import type { AnalyzeOptions } from '../commands/analyze.js';
import { resolveTargetOptions } from '../options/options.js';
import { duration, positiveInt } from '../options/parse.js';
import { PROFILE_NAMES } from '../options/profiles.js';
import type { CommandSpec } from './context.js';

interface AnalyzeFlags {
  format?: LogFormat;
  profile?: string;
  config?: string;
  json?: boolean;
  html?: string;
  clientModel?: string;
  shortStream: number;
  atOnce?: number;
  stormMin: number;
}

export const analyzeCommand: CommandSpec<AnalyzeOptions> = {
  define: (program: Command) =>
    program
      .command('analyze')
      .description('read HAR files and access logs of an incident: retry storms, 429 windows, backend bugs, with their evidence lines')
      .argument('<file...>', 'HAR, nginx or uvicorn access log, application log or JSON lines; - reads standard input')
      .addOption(new Option('--format <format>', 'force the format (default: detected per file)').choices(LOG_FORMATS))
      .addOption(new Option('--profile <name>', 'contract profile').choices(PROFILE_NAMES))
      .option('--config <file>', 'config file (default ./sse-doctor.config.json; its logFields map a JSON log)')
      .addOption(new Option('--short-stream <duration>', 'a stream shorter than this without a terminal event is short').argParser(duration).default(1000, '1s'))
      .option('--at-once <duration>', "a retry sooner than this after the end before is at once (default: half the profile's first retry delay)", duration)
      .addOption(new Option('--storm-min <n>', 'retries at once for one generation that make a storm').argParser(positiveInt).default(10))
      .option('--json', 'findings, figures and per-client summaries as JSON on stdout')
      .option('--html <file>', 'also write a self-contained HTML page with the timeline')
      .option('--client-model <file>', 'write the measured client behaviour as a client model for load --client-model'),
  options: ({ args, flags }, context) => {
    const analyzeFlags = flags as unknown as AnalyzeFlags;
    const { profile, logFields } = resolveTargetOptions({ profile: analyzeFlags.profile, config: analyzeFlags.config }, context.env);
    return Object.freeze({
      files: Object.freeze([...(args[0] as string[])]),
      format: analyzeFlags.format,
      profile,
      settings: Object.freeze({
        shortStreamMs: analyzeFlags.shortStream,
        atOnceMs: analyzeFlags.atOnce ?? defaultAnalyzeSettings(profile).atOnceMs,
        stormMinRequests: analyzeFlags.stormMin,
      }),
      jsonFields: logFields ?? {},
      json: analyzeFlags.json === true,
      htmlFile: analyzeFlags.html,
      clientModelFile: analyzeFlags.clientModel,
      color: context.colorStdout,
    });
  },
  run: async (options, context) => {
    const { analyze } = await import('../commands/analyze.js');
    return analyze(options, context);
  },
};
