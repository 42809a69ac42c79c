import { LATENCY_METRICS } from '../load/part.js';
import type { LoadReport } from '../load/report.js';

export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/**
 * `load --html FILE`: one self-contained page (no network: data inline, charts drawn as SVG by
 * inline script) showing the run at a glance: open streams, events/s, latency percentiles and
 * responses by status over time, then the figures and thresholds.
 */
export function loadHtml(report: LoadReport): string {
  const { metrics, settings } = report;
  // `<` escaped so no string in the data can close the script element.
  const data = JSON.stringify({ timeline: report.timeline, mode: settings.mode }).replace(/</g, '\\u003c');
  const figure = (label: string, value: string) => `<div class="figure"><div class="value">${escapeHtml(value)}</div><div class="label">${escapeHtml(label)}</div></div>`;
  const latencyRows = LATENCY_METRICS.filter((metric) => metrics.latencyMs[metric].count > 0)
    .map((metric) => {
      const s = metrics.latencyMs[metric];
      const cell = (ms: number) => `<td>${ms.toFixed(1)}</td>`;
      return `<tr><td>${metric}</td><td>${s.count}</td>${cell(s.p50)}${cell(s.p95)}${cell(s.p99)}${cell(s.max)}</tr>`;
    })
    .join('');
  const errorRows = Object.entries(metrics.errors)
    .map(([kind, n]) => `<tr><td>${escapeHtml(kind)}</td><td>${n}</td></tr>`)
    .join('');
  const thresholdRows = report.thresholds
    .map((t) => `<li class="${t.ok ? 'ok' : 'missed'}">${t.ok ? '✓' : '✗'} ${escapeHtml(t.threshold)} <span>(${+t.actual.toPrecision(4)})</span></li>`)
    .join('');
  const verdict = report.thresholds.length === 0 ? '' : `<p class="verdict ${report.verdict}">${report.verdict === 'pass' ? 'all thresholds held' : 'threshold missed'}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sse-doctor load report</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}.sub{color:#666;margin:0 0 16px}
.figures{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:16px}
.figure{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}
.value{font-size:20px;font-weight:600}.label{color:#666;font-size:12px}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.chart h2{font-size:14px;margin:0 0 4px}.chart svg{width:100%;height:220px;border:1px solid #eee}
.legend span{margin-right:10px;font-size:12px}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}td:first-child{text-align:left}
.ok{color:#1a7f37}.missed,.fail{color:#cf222e}.pass{color:#1a7f37}.warn{color:#9a6700}
</style></head><body>
<h1>sse-doctor load: ${escapeHtml(settings.mode === 'token-spam' ? 'token spam' : 'streams')} against ${escapeHtml(settings.target)}</h1>
<p class="sub">${settings.arrival === 'open' ? `${settings.ratePerSecond} clients/s (open model)` : `${settings.clients} clients (closed model)`}, ${escapeHtml(settings.client)} client, ${(metrics.durationMs / 1000).toFixed(1)} s, ${metrics.processes} process(es)${report.stoppedEarly ? ', interrupted (Ctrl-C): not a pass' : ''}</p>
<div class="figures">
${figure('peak open streams', String(metrics.peakOpenStreams))}
${figure('streams opened', String(metrics.streamsOpened))}
${figure('events/s', String(metrics.eventsPerSecond))}
${figure('429 rate', `${(metrics.rate429 * 100).toFixed(1)}%`)}
${figure('errors', String(Object.values(metrics.errors).reduce((a, b) => a + b, 0)))}
${figure('p95 first event', `${metrics.latencyMs.firstEvent.p95.toFixed(1)} ms`)}
${figure('tool event-loop lag p99', `${metrics.eventLoopLagMs.p99} ms`)}
</div>
${report.warnings.map((w) => `<p class="warn">⚠ ${escapeHtml(w)}</p>`).join('\n')}
<div class="charts">
<div class="chart"><h2>open streams</h2><svg data-chart="open" viewBox="0 0 500 220"></svg><div class="legend" data-legend="open"></div></div>
<div class="chart"><h2>events per second</h2><svg data-chart="events" viewBox="0 0 500 220"></svg><div class="legend" data-legend="events"></div></div>
<div class="chart"><h2 data-title="latency">latency percentiles (ms)</h2><svg data-chart="latency" viewBox="0 0 500 220"></svg><div class="legend" data-legend="latency"></div></div>
<div class="chart"><h2>responses by status (per second)</h2><svg data-chart="responses" viewBox="0 0 500 220"></svg><div class="legend" data-legend="responses"></div></div>
</div>
<h2>latencies (ms)</h2>
<table><tr><th>metric</th><th>count</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>${latencyRows}</table>
${errorRows ? `<h2>errors</h2><table><tr><th>kind</th><th>count</th></tr>${errorRows}</table>` : ''}
${thresholdRows ? `<h2>thresholds</h2><ul>${thresholdRows}</ul>${verdict}` : ''}
<script type="application/json" id="load-data">${data}</script>
<script>${CHART_SCRIPT}</script>
</body></html>
`;
}

// Plain ES5-ish script so the page opens in any browser from a file: no modules, no network.
const CHART_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('load-data').textContent);
  var t = data.timeline;
  var NS = 'http://www.w3.org/2000/svg';
  var W = 500, H = 220, L = 48, R = 8, T = 8, B = 24;
  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function niceMax(v) {
    if (v <= 0) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function axes(svg, max) {
    var n = Math.max(1, t.length);
    el('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#999' }, svg);
    el('line', { x1: L, y1: T, x2: L, y2: H - B, stroke: '#999' }, svg);
    [0, 0.5, 1].forEach(function (f) {
      var y = H - B - f * (H - B - T);
      el('text', { x: L - 4, y: y + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#666' }, svg).textContent = String(+(max * f).toPrecision(3));
      if (f > 0) el('line', { x1: L, y1: y, x2: W - R, y2: y, stroke: '#eee' }, svg);
    });
    el('text', { x: W - R, y: H - 6, 'text-anchor': 'end', 'font-size': 10, fill: '#666' }, svg).textContent = n + ' s';
    el('text', { x: L, y: H - 6, 'font-size': 10, fill: '#666' }, svg).textContent = '0 s';
  }
  function x(i) { return L + (t.length <= 1 ? 0 : (i / (t.length - 1)) * (W - L - R)); }
  function legend(name, items) {
    var box = document.querySelector('[data-legend="' + name + '"]');
    items.forEach(function (item) {
      var span = document.createElement('span');
      span.style.color = item.color;
      span.textContent = '■ ' + item.name;
      box.appendChild(span);
    });
  }
  function lines(name, series) {
    var svg = document.querySelector('svg[data-chart="' + name + '"]');
    var max = 0;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null && v > max) max = v; }); });
    max = niceMax(max);
    axes(svg, max);
    series.forEach(function (s) {
      var d = '';
      s.values.forEach(function (v, i) {
        if (v === null) return;
        var y = H - B - (v / max) * (H - B - T);
        d += (d === '' ? 'M' : 'L') + x(i).toFixed(1) + ' ' + y.toFixed(1);
      });
      if (d !== '' && s.values.filter(function (v) { return v !== null; }).length === 1) d += 'l2 0';
      if (d !== '') el('path', { d: d, fill: 'none', stroke: s.color, 'stroke-width': 2, 'data-series': s.name }, svg);
    });
    legend(name, series);
  }
  function pick(key, p) { return t.map(function (s) { return s[key] ? s[key][p] : null; }); }
  lines('open', [{ name: 'open streams', color: '#0969da', values: t.map(function (s) { return s.open; }) }]);
  lines('events', [{ name: 'events/s', color: '#8250df', values: t.map(function (s) { return s.events; }) }]);
  var latencyKey = data.mode === 'token-spam' ? 'tokenRequest' : 'firstEvent';
  document.querySelector('[data-title="latency"]').textContent = (latencyKey === 'firstEvent' ? 'time to first event' : 'token request') + ' percentiles (ms)';
  lines('latency', [
    { name: 'p50', color: '#1a7f37', values: pick(latencyKey, 'p50') },
    { name: 'p95', color: '#9a6700', values: pick(latencyKey, 'p95') },
    { name: 'p99', color: '#cf222e', values: pick(latencyKey, 'p99') }
  ]);
  (function () {
    var svg = document.querySelector('svg[data-chart="responses"]');
    var statuses = {}, max = 0;
    t.forEach(function (s) {
      var total = 0;
      for (var k in s.responses) { statuses[k] = true; total += s.responses[k]; }
      if (total > max) max = total;
    });
    max = niceMax(max);
    axes(svg, max);
    var keys = Object.keys(statuses).sort();
    function color(status) {
      var n = +status;
      return n === 429 ? '#bf8700' : n >= 500 ? '#cf222e' : n >= 400 ? '#fb8f44' : n >= 300 ? '#8250df' : '#2da44e';
    }
    var bw = Math.max(1, (W - L - R) / Math.max(1, t.length) - 1);
    t.forEach(function (s, i) {
      var y = H - B;
      keys.forEach(function (k) {
        var v = s.responses[k] || 0;
        if (v === 0) return;
        var h = (v / max) * (H - B - T);
        y -= h;
        el('rect', { x: (L + i * (W - L - R) / Math.max(1, t.length)).toFixed(1), y: y.toFixed(1), width: bw.toFixed(1), height: h.toFixed(1), fill: color(k), 'data-status': k }, svg);
      });
    });
    legend('responses', keys.map(function (k) { return { name: k, color: color(k) }; }));
  })();
})();
`;
