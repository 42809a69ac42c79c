import { writeFileSync } from 'node:fs';
import { Analyzer } from '../analyze/analyzer.js';
import { clientModelSpec } from '../analyze/clientModel.js';
import type { JsonFieldMap } from '../analyze/lineFormats.js';
import type { AnalyzeReport } from '../analyze/read.js';
import { readFiles } from '../analyze/readThread.js';
import type { LogFormat } from '../analyze/record.js';
import type { AnalyzeSettings } from '../analyze/settings.js';
import { EXIT_CODES, UsageError } from '../errors.js';
import type { Profile } from '../engine/target.js';
import { reporterFor } from '../reporters/registry.js';

export interface AnalyzeOptions {
  readonly files: readonly string[];
  readonly format: LogFormat | undefined;
  readonly profile: Profile;
  readonly settings: AnalyzeSettings;
  readonly jsonFields: JsonFieldMap;
  readonly json: boolean;
  readonly htmlFile: string | undefined;
  readonly clientModelFile: string | undefined;
  readonly color: boolean;
}

export interface AnalyzeIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** `sse-doctor analyze <file...>`: HAR files and logs to findings; exit 1 when there are any. */
export async function analyze(options: AnalyzeOptions, io: AnalyzeIo): Promise<number> {
  if (options.files.filter((file) => file === '-').length > 1) throw new UsageError('analyze: standard input (-) can be read only once');
  const analyzer = new Analyzer(options.profile, options.settings);
  const files = await readFiles(options.files, analyzer, { format: options.format, jsonFields: options.jsonFields, terminal: options.profile.terminal });
  const report: AnalyzeReport = { files, ...analyzer.finish() };
  io.stdout.write(reporterFor('analyze', options.json ? 'json' : 'pretty', options)(report));
  writeOutput(options.htmlFile, '--html', () => reporterFor('analyze', 'html')(report));
  writeOutput(options.clientModelFile, '--client-model', () => `${JSON.stringify(clientModelSpec(report.behaviour, files.map((file) => file.file).join(', ')), null, 2)}\n`);
  if (!options.json) {
    if (options.htmlFile !== undefined) io.stderr.write(`analyze: report page written to ${options.htmlFile}\n`);
    if (options.clientModelFile !== undefined) io.stderr.write(`analyze: client model written to ${options.clientModelFile} (use it with load or replay --client-model)\n`);
  }
  return report.findings.length === 0 ? EXIT_CODES.ok : EXIT_CODES.findings;
}

function writeOutput(file: string | undefined, flag: string, content: () => string): void {
  if (file === undefined) return;
  try {
    writeFileSync(file, content());
  } catch (error) {
    throw new UsageError(`${flag}: cannot write ${file} (${(error as Error).message})`, { cause: error });
  }
}
