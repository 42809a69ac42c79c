import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { mergeParts, parsePart } from '../load/merge.js';
import type { LoadPart } from '../load/part.js';
import { buildLoadReport } from '../load/report.js';
import { writeLoadReport, type LoadOutputOptions } from './load.js';

export interface MergeOptions extends LoadOutputOptions {
  readonly files: readonly string[];
  /** Also write the merged part here (to merge again later). */
  readonly outFile: string | undefined;
}

/** `sse-doctor merge parts/*.json`: combines shard parts exactly and reports them as one run. */
export async function merge(options: MergeOptions, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; writeFile(path: string, text: string): void }): Promise<number> {
  const parts: LoadPart[] = options.files.map((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`${file}: cannot read (${(error as Error).message})`, { cause: error });
    }
    return parsePart(text, file);
  });
  const seen = new Map<number, string>();
  parts.forEach((part, index) => {
    const file = options.files[index] as string;
    for (const shard of part.shard ? [part.shard.index] : part.shardsMerged) {
      const other = seen.get(shard);
      if (other !== undefined) throw new ConfigError(`${file}: shard ${shard} is also in ${other}; merging it twice would count it twice`);
      seen.set(shard, file);
    }
  });
  const counts = new Set(parts.flatMap((part) => (part.shard ? [part.shard.count] : [])));
  if (counts.size > 1) throw new ConfigError(`merge: the parts come from runs split differently (--shard i/${[...counts].join(', i/')})`);
  const merged = mergeParts(parts);
  const expected = [...counts][0];
  const complete = expected === undefined || merged.shardsMerged.length === expected;
  if (options.outFile !== undefined) io.writeFile(options.outFile, JSON.stringify(merged));
  const report = buildLoadReport(merged, options.thresholds);
  const withMissing = complete
    ? report
    : { ...report, warnings: [...report.warnings, `only ${merged.shardsMerged.length} of ${expected} shards merged (have ${merged.shardsMerged.join(', ')})`] };
  return writeLoadReport(withMissing, options, io);
}
