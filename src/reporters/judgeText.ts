import type { JudgeCaseResult, JudgedRequest, JudgeFigures } from '../judge/types.js';
import { terminalSafe } from './terminalText.js';

export const secondsText = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

/** `#4 +0.31 s POST /api/generations/generate/…/stream-token -> 400 (400)`: a request as a failure quotes it. */
export function requestLine(request: JudgedRequest): string {
  const end = request.endT === undefined ? 'still open' : `${request.status ?? '?'} after ${secondsText(request.endT - request.t)}`;
  const resume = request.lastEventId === undefined ? '' : `, Last-Event-ID ${request.lastEventId}`;
  const token = request.token === undefined ? '' : `, token #${request.token}`;
  return terminalSafe(`#${request.seq} +${secondsText(request.t)} ${request.method} ${request.path} -> ${end} (${request.answer}${token}${resume})`);
}

/** Enough requests to show a pattern; the JSON report has them all. */
const QUOTED = 6;

/** The failed checks of a case, each with the requests that show it. */
export function failureLines(result: JudgeCaseResult): string[] {
  const lines: string[] = [];
  for (const check of result.checks.filter((candidate) => !candidate.pass)) {
    lines.push(`${check.name}: ${check.message}`);
    for (const seq of check.requests.slice(0, QUOTED)) {
      const request = result.requests.find((candidate) => candidate.seq === seq);
      if (request) lines.push(`  ${requestLine(request)}`);
    }
    if (check.requests.length > QUOTED) lines.push(`  … and ${check.requests.length - QUOTED} more`);
  }
  if (result.verdict === 'not-run') lines.push('not run: the client started no generation for this case');
  return lines;
}

/** The figures of a case as short cells: retries, delays, windows, resume, tokens, give-up, rate. */
export function figureCells(figures: JudgeFigures | undefined): string[] {
  if (!figures) return ['', '', '', '', '', '', ''];
  const delays = figures.delays.length === 0 ? '-' : figures.delays.slice(0, 6).map((delay) => (delay.ms / 1000).toFixed(2)).join(' ') + (figures.delays.length > 6 ? ' …' : '');
  return [
    String(figures.retries),
    delays,
    String(figures.insideRetryAfter),
    figures.reconnects === 0 ? '-' : `${figures.lastEventIdSent}/${figures.reconnects}`,
    figures.reconnects === 0 ? '-' : `${figures.freshTokens}/${figures.reconnects}`,
    figures.gaveUpAfterMs === undefined ? 'never' : secondsText(figures.gaveUpAfterMs),
    String(figures.worstPerSecond),
  ];
}
