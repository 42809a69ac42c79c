import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { Redactor } from '../engine/secrets.js';

/**
 * A report file named on the command line (`--junit`, `--html`, `--part`, `--out`), checked
 * before the run starts: a run of minutes must not end in an EISDIR with its report lost.
 */
export function checkOutputPath(path: string, flag: string, cwd: string = process.cwd()): string {
  const full = resolve(cwd, path);
  const folder = dirname(full);
  const stats = statSync(full, { throwIfNoEntry: false });
  if (stats?.isDirectory()) throw new UsageError(`${flag}: ${path} is a folder; give a file name, e.g. ${path.replace(/\/?$/, '/report')}`);
  const folderStats = statSync(folder, { throwIfNoEntry: false });
  if (!folderStats?.isDirectory()) throw new UsageError(`${flag}: cannot write ${path}: the folder ${folder} does not exist`);
  try {
    accessSync(stats === undefined ? folder : full, constants.W_OK);
  } catch {
    throw new UsageError(`${flag}: cannot write ${path}: no permission`);
  }
  return path;
}

/** Writes a report file through the redactor, like every other output. */
export function writeReportFile(path: string, text: string, redactor: Redactor): void {
  try {
    writeFileSync(path, redactor.scrub(text));
  } catch (error) {
    throw new UsageError(`cannot write ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { cause: error });
  }
}
