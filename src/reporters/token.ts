import type { ChalkInstance } from 'chalk';
import { terminalSafe } from './terminalText.js';

/** What `token <id>` found: the `--json` shape (docs/schemas/token.schema.json). */
export interface TokenReport {
  readonly generationId: string;
  readonly status: number;
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly token: string | null;
  readonly expiresIn: number | null;
  readonly streamUrl: string | null;
  readonly retryAfter: number | null;
  readonly detail: string | null;
  readonly meaning: string;
  readonly next: string;
}

export function tokenJson(report: TokenReport): string {
  return `${JSON.stringify(report)}\n`;
}

/** The answer, then what it means and what a client should do next; what the server sent is made terminal-safe. */
export function tokenPretty(report: TokenReport, c: ChalkInstance): string {
  const lines = report.ok
    ? [
        `${c.green(String(report.status))} token issued in ${report.latencyMs} ms`,
        `  token       ${terminalSafe(report.token ?? '')}`,
        `  expires_in  ${report.expiresIn ?? c.yellow('(missing)')} s`,
        `  stream_url  ${terminalSafe(report.streamUrl ?? '')}`,
      ]
    : [
        `${c.red(String(report.status))} no token (${report.latencyMs} ms)${report.retryAfter !== null ? `, Retry-After: ${report.retryAfter} s` : ''}`,
        `  detail  ${report.detail ? terminalSafe(report.detail) : c.dim('(none)')}`,
      ];
  lines.push(`  means   ${report.meaning}`, `  next    ${report.next}`);
  return `${lines.join('\n')}\n`;
}
