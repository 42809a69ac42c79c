import type { CheckReport } from '../check/types.js';

/**
 * GitHub Actions workflow commands: `::error title=…::message` for failures, `::warning` for
 * warnings (`::error` under `--strict`). Data and properties are escaped as the runner expects.
 */
export function renderCheckGithub(report: CheckReport): string {
  const lines: string[] = [];
  for (const result of report.results) {
    if (result.status !== 'fail' && result.status !== 'warn') continue;
    const level = result.status === 'fail' || report.summary.strict ? 'error' : 'warning';
    lines.push(`::${level} title=${property(`${result.id} (${result.layer ?? 'backend'}): ${result.title}`)}::${data(result.message)}`);
  }
  for (const problem of report.summary.problems) lines.push(`::error title=sse-doctor check::${data(problem)}`);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function data(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function property(text: string): string {
  return data(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
