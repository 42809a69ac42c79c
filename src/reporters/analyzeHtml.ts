import type { AnalyzeReport } from '../analyze/read.js';
import { where } from './analyzeTable.js';

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

const CLASSES = [
  { label: '2xx/3xx', color: '#2da44e' },
  { label: '4xx', color: '#d4a72c' },
  { label: '429', color: '#e16f24' },
  { label: '5xx', color: '#cf222e' },
  { label: 'no answer', color: '#8c959f' },
] as const;
const MAX_BARS = 600;
const WIDTH = 1000;
const HEIGHT = 240;

/** Requests over time as stacked bars by status class, drawn here so the page needs no script. */
function timelineSvg(report: AnalyzeReport): string {
  const { timeline } = report;
  const perBar = Math.max(1, Math.ceil(timeline.buckets.length / MAX_BARS));
  const bars: number[][] = [];
  for (let i = 0; i < timeline.buckets.length; i += perBar) {
    const sum = [0, 0, 0, 0, 0];
    for (const bucket of timeline.buckets.slice(i, i + perBar)) bucket.forEach((n, k) => (sum[k]! += n));
    bars.push(sum);
  }
  const peak = Math.max(1, ...bars.map((bar) => bar.reduce((a, b) => a + b, 0)));
  const barWidth = WIDTH / Math.max(1, bars.length);
  const rects = bars
    .map((bar, x) => {
      let y = HEIGHT;
      return bar
        .map((n, k) => {
          if (n === 0) return '';
          const h = (n / peak) * (HEIGHT - 10);
          y -= h;
          return `<rect x="${(x * barWidth).toFixed(2)}" y="${y.toFixed(2)}" width="${Math.max(barWidth - 0.5, 0.5).toFixed(2)}" height="${h.toFixed(2)}" fill="${CLASSES[k]!.color}"><title>${n} × ${CLASSES[k]!.label}</title></rect>`;
        })
        .join('');
    })
    .join('');
  const unit = timeline.unit === 's' ? `${perBar} s per bar, from ${new Date(timeline.originMs ?? 0).toISOString()}` : `${timeline.bucketSize * perBar} requests per bar, in log order (the log has no times)`;
  const legend = CLASSES.map((cls) => `<span><i style="background:${cls.color}"></i>${cls.label}</span>`).join('');
  return `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" preserveAspectRatio="none">${rects}</svg><div class="legend">${legend} <em>peak ${peak} per bar; ${escapeHtml(unit)}</em></div>`;
}

/**
 * `analyze --html FILE`: one self-contained page to attach to an incident ticket: the timeline
 * coloured by status (a storm is a wall of orange), the findings with evidence, the figures.
 */
export function analyzeHtml(report: AnalyzeReport): string {
  const { figures } = report;
  const figure = (label: string, value: string) => `<div class="figure"><div class="value">${escapeHtml(value)}</div><div class="label">${escapeHtml(label)}</div></div>`;
  const na = (value: number | undefined) => (value === undefined ? 'n/a' : String(value));
  const findings = report.findings
    .map(
      (finding) => `<section class="finding ${finding.layer}"><h3>${escapeHtml(finding.title)} <code>${finding.id}</code> <span class="layer">${finding.layer}</span></h3>
<p>${escapeHtml(finding.summary)}</p>
<pre>${finding.evidence.map((e) => escapeHtml(`${e.file}${where(e)}  ${e.text}`)).join('\n')}${finding.occurrences > finding.evidence.length ? `\n… ${finding.occurrences - finding.evidence.length} more` : ''}</pre>
<p><b>Why it hurts:</b> ${escapeHtml(finding.why)}</p><p><b>Fix (${finding.layer}):</b> ${escapeHtml(finding.fix)}</p></section>`,
    )
    .join('\n');
  const files = report.files.map((file) => `<li>${escapeHtml(file.file)} (${file.format}): ${file.lines} lines, ${file.records} requests${file.unreadable > 0 ? `, ${file.unreadable} unreadable` : ''}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sse-doctor analyze</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}
.figures{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.figure{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}
.value{font-size:20px;font-weight:600}.label{color:#666;font-size:12px}
svg{width:100%;height:240px;border:1px solid #eee;background:#fafafa}
.legend span{margin-right:12px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}.legend em{color:#666;font-size:12px}
.finding{border-left:4px solid #0969da;padding:4px 12px;margin:12px 0}.finding.backend{border-color:#8250df}
.finding h3{margin:4px 0;font-size:15px}.layer{font-size:12px;color:#666}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:12px}
</style></head><body>
<h1>sse-doctor analyze: ${report.findings.length} finding${report.findings.length === 1 ? '' : 's'}</h1>
<ul>${files}</ul>
<h2>Requests over time, by status</h2>
${timelineSvg(report)}
<div class="figures">
${figure('requests', String(figures.requests))}
${figure('peak requests/s', na(figures.peakRequestsPerSecond))}
${figure('peak requests/s, one generation', na(figures.peakRequestsPerSecondPerGeneration))}
${figure(`peak token requests/min, one generation (limit ${figures.tokenRateLimit.requests})`, na(figures.peakTokenRequestsPerGenerationPerMinute))}
${figure('429 share of token answers', `${(figures.rate429 * 100).toFixed(1)}%`)}
${figure('stream p50 / p95', figures.streamDurationMs.count === 0 ? 'n/a' : `${figures.streamDurationMs.p50} / ${figures.streamDurationMs.p95} ms`)}
${figure(`most retries in a row (policy ${figures.policyMaxRetries})`, String(figures.maxRetriesInRow))}
${figure('naive-like clients', `${(figures.naiveClientShare * 100).toFixed(1)}%`)}
</div>
<h2>Findings</h2>
${findings || '<p>No findings.</p>'}
</body></html>
`;
}
