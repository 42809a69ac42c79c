import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../src/browser/chromium.js';
import { buildLoadReport } from '../src/load/report.js';
import { runLoad } from '../src/load/runner.js';
import { parseThreshold } from '../src/load/thresholds.js';
import { resolveTargetOptions } from '../src/options/options.js';
import { loadHtml } from '../src/reporters/loadHtml.js';
import { sseHeaders, startMisbehavingServer, type MisbehavingServer } from './helpers/misbehaving.js';


interface DrawnCharts {
  open: number;
  events: number;
  latencySeries: number;
  statusBars: string[];
  verdict: string | undefined;
}

// Runs in the page (a string, since this file is typed for Node, not the DOM): how much got drawn.
const MEASURE_CHARTS = `(() => {
  const chart = (name) => document.querySelector('svg[data-chart="' + name + '"]');
  const pathLength = (name) => [...chart(name).querySelectorAll('path')].reduce((sum, path) => sum + path.getTotalLength(), 0);
  return {
    open: pathLength('open'),
    events: pathLength('events'),
    latencySeries: chart('latency').querySelectorAll('path').length,
    statusBars: [...chart('responses').querySelectorAll('rect')].map((rect) => rect.getAttribute('data-status')),
    verdict: document.querySelector('.verdict')?.textContent,
  };
})()`;

let server: MisbehavingServer;
beforeAll(async () => {
  // Streams of ten events, 429 for every fourth request: every chart has something to draw.
  let requests = 0;
  server = await startMisbehavingServer({
    '/stream': (req, res) => {
      if (++requests % 4 === 0) {
        res.writeHead(429, { 'retry-after': '0' }).end('slow down');
        return;
      }
      res.writeHead(200, sseHeaders);
      let id = 0;
      const timer = setInterval(() => {
        id++;
        res.write(id < 10 ? `id: ${id}\nevent: content_chunk\ndata: {"n":${id}}\n\n` : `id: ${id}\nevent: complete\ndata: {"status":"completed"}\n\n`);
        if (id >= 10) {
          clearInterval(timer);
          res.end();
        }
      }, 30);
      req.on('close', () => clearInterval(timer));
    },
  });
});
afterAll(() => server.close());

describe('load --html', () => {
  it('renders a self-contained page whose charts draw in headless Chromium', async () => {
    const target = resolveTargetOptions({ url: server.url('/stream') }, {}, tmpdir());
    const part = await runLoad({
      target,
      mode: 'streams',
      arrival: { kind: 'closed', clients: 8 },
      durationMs: 2500,
      rampMs: 0,
      maxRequests: undefined,
      ids: undefined,
      client: 'naive',
      sourceNetwork: undefined,
    });
    const report = buildLoadReport(part, [parseThreshold('p95(firstEvent)<5s'), parseThreshold('rate429<0.01')]);
    const file = join(tmpdir(), `sse-doctor-load-${process.pid}.html`);
    writeFileSync(file, loadHtml(report));

    // A missing browser fails this test loudly (launchChromium says how to install it): the CI script installs it.
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(pathToFileURL(file).href);
      const drawn = await page.evaluate<DrawnCharts>(MEASURE_CHARTS);
      await page.screenshot({ path: join(tmpdir(), 'sse-doctor-load-report.png'), fullPage: true });
      expect(errors).toEqual([]);
      expect(requests.every((url) => url.startsWith('file:'))).toBe(true);
      expect(drawn.open).toBeGreaterThan(100);
      expect(drawn.events).toBeGreaterThan(100);
      expect(drawn.latencySeries).toBe(3);
      expect(new Set(drawn.statusBars)).toEqual(new Set(['200', '429']));
      expect(drawn.verdict).toBe('threshold missed');
    } finally {
      await browser.close();
    }
  }, 20_000);
});
