import type { JudgeCaseResult, JudgedRequestKind, JudgeReport } from '../judge/types.js';
import { escapeHtml } from './loadHtml.js';
import { failureLines, figureCells, requestLine } from './judgeText.js';

const WIDTH = 960;
const ROW_HEIGHT = 26;
const LABEL_WIDTH = 60;
const KINDS: readonly JudgedRequestKind[] = ['token', 'stream', 'status', 'call'];
const FIGURE_NAMES = ['retries', 'delays (s)', 'in 429 wait', 'Last-Event-ID', 'fresh token', 'gave up after', 'worst req/s'];

function colour(status: number | undefined): string {
  if (status === undefined) return '#8c959f';
  if (status === 429) return '#cf222e';
  if (status >= 500) return '#82071e';
  if (status >= 400) return '#bc4c00';
  return '#1a7f37';
}

/** Each request as a bar from its start to the end of its response, a row per kind; hover shows the request. */
function timeline(result: JudgeCaseResult): string {
  const kinds = KINDS.filter((kind) => result.requests.some((request) => request.kind === kind));
  const end = Math.max(1, result.durationMs, ...result.requests.map((request) => request.endT ?? request.t));
  const x = (t: number) => LABEL_WIDTH + (t / end) * (WIDTH - LABEL_WIDTH - 10);
  const labels = kinds.map((kind, index) => `<text x="0" y="${index * ROW_HEIGHT + 17}">${kind}</text>`).join('');
  const bars = result.requests
    .map((request) => {
      const y = kinds.indexOf(request.kind) * ROW_HEIGHT + 4;
      const left = x(request.t);
      const width = Math.max(2, x(request.endT ?? end) - left);
      const stop = request.stopSignal === undefined ? '' : ` stroke="#000" stroke-width="1.5"`;
      return `<rect x="${left.toFixed(1)}" y="${y}" width="${width.toFixed(1)}" height="${ROW_HEIGHT - 8}" fill="${colour(request.status)}"${stop}><title>${escapeHtml(requestLine(request))}</title></rect>`;
    })
    .join('');
  const axis = `<text x="${LABEL_WIDTH}" y="${kinds.length * ROW_HEIGHT + 14}">0</text><text x="${WIDTH - 10}" y="${kinds.length * ROW_HEIGHT + 14}" text-anchor="end">${(end / 1000).toFixed(2)} s</text>`;
  return `<svg viewBox="0 0 ${WIDTH} ${kinds.length * ROW_HEIGHT + 20}" width="${WIDTH}">${labels}${bars}${axis}</svg>`;
}

function section(result: JudgeCaseResult): string {
  const figures = figureCells(result.figures)
    .map((cell, index) => `<div class="figure"><div class="value">${escapeHtml(cell)}</div><div class="label">${FIGURE_NAMES[index]}</div></div>`)
    .join('');
  const failures = result.verdict === 'pass' ? '' : `<pre class="fail">${escapeHtml(failureLines(result).join('\n'))}</pre><p class="advice">${escapeHtml(result.advice)}</p>`;
  const checks = result.checks.map((check) => `<li class="${check.pass ? 'pass' : 'fail'}">${check.pass ? '✓' : '✗'} ${escapeHtml(check.name)}: ${escapeHtml(check.message)}</li>`).join('');
  const consoleErrors = result.page && result.page.consoleErrors.length > 0 ? `<details><summary>browser console errors (${result.page.consoleErrors.length})</summary><pre>${escapeHtml(result.page.consoleErrors.join('\n'))}</pre></details>` : '';
  const network = result.page ? `<details><summary>page network log (${result.page.network.length})</summary><pre>${escapeHtml(result.page.network.join('\n'))}</pre></details>` : '';
  return `<section><h2><span class="${result.verdict}">${result.verdict.toUpperCase()}</span> ${escapeHtml(result.name)} <small>${escapeHtml(result.title)}</small></h2>
<div class="figures">${figures}</div>
${result.requests.length > 0 ? timeline(result) : ''}
<ul>${checks}</ul>${failures}${consoleErrors}${network}</section>`;
}

/** `judge --html FILE`: one self-contained page, a timeline of the client's requests per case. */
export function renderJudgeHtml(report: JudgeReport): string {
  const failed = report.cases.filter((result) => result.verdict !== 'pass').length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sse-doctor judge report</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 6px}small{color:#666;font-weight:normal}
.figures{display:flex;flex-wrap:wrap;gap:8px;margin:6px 0}
.figure{border:1px solid #ddd;border-radius:6px;padding:4px 10px}.value{font-weight:600}.label{color:#666;font-size:12px}
svg text{font-size:11px;fill:#555}pre{background:#f6f8fa;padding:8px;overflow-x:auto}
.pass{color:#1a7f37}.fail{color:#cf222e}.not-run{color:#9a6700}.advice{color:#444;font-style:italic}
</style></head><body>
<h1>sse-doctor judge: ${report.cases.length - failed} of ${report.cases.length} cases passed</h1>
${report.interrupted ? '<p class="fail">interrupted (Ctrl-C): the report covers only what ran, and is not a pass</p>\n' : ''}<p>${escapeHtml(report.url)}, time scale ${report.timeScale}; bars run from a request to the end of its response (green 2xx, orange 4xx, red 429, grey still open; outlined: the answer told the client to stop).</p>
${report.cases.map(section).join('\n')}
</body></html>
`;
}
