import { readFileSync } from 'node:fs';

/** Descriptors a process needs besides its clients' sockets: stdio, the event loop's own, files it reads. */
const DESCRIPTORS_BESIDES_SOCKETS = 64;

/** The soft `Max open files` of a /proc/PID/limits text; undefined when unlimited or absent. */
export function parseOpenFilesLimit(limitsText: string): number | undefined {
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(limitsText);
  return match && match[1] !== 'unlimited' ? Number(match[1]) : undefined;
}

/** This process's file-descriptor limit (`ulimit -n`), where the system tells it (Linux). */
export function openFilesLimit(): number | undefined {
  try {
    return parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Said before a run whose clients cannot all have a socket: past the limit, connects fail with
 * EMFILE in the tool itself, which would read like a failing target.
 */
export function socketLimitWarning(clients: number, processes: number, limit: number | undefined): string | undefined {
  if (limit === undefined) return undefined;
  const perProcess = Math.ceil(clients / processes);
  const room = Math.max(1, limit - DESCRIPTORS_BESIDES_SOCKETS);
  if (perProcess <= room) return undefined;
  return `${perProcess} clients per process need as many sockets, but a process may open ${limit} files here (ulimit -n): use --workers ${Math.ceil(clients / room)} or raise the limit`;
}
