import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { frontendUrl, PAGES_DIR } from '../pages/staticServer.js';

/** How long a recording may take on a loaded machine before the test gives up on it. */
const RECORDING_BOUND_MS = 45_000;

/**
 * Loads the test frontend with `behaviour` in real Chromium while Chromium records a HAR of
 * everything the page sent: the evidence `analyze` reads, from real software. The recording ends
 * on what the page did, never on the wall clock: once it has sent `tokenRequests` token requests,
 * or (without that) once it has stopped, gave up or completed. The page is served at the API's
 * own origin (the browser answers for its two files), so it needs no CORS from the backend: the
 * FastAPI one has none, as many real backends behind one origin.
 */
export async function recordHar(
  browser: Browser,
  options: { readonly api: string; readonly behaviour: string; readonly extra?: Readonly<Record<string, string>>; readonly tokenRequests?: number; readonly harPath: string },
): Promise<void> {
  const { origin } = new URL(options.api);
  const context = await browser.newContext({ recordHar: { path: options.harPath, content: 'embed' } });
  try {
    const page = await context.newPage();
    for (const [file, contentType] of [['frontend.html', 'text/html'], ['frontend.js', 'text/javascript']] as const) {
      const body = readFileSync(join(PAGES_DIR, file), 'utf8');
      await page.route((url) => url.origin === origin && url.pathname === `/${file}`, (route) => route.fulfill({ contentType, body }));
    }
    const wanted = options.tokenRequests;
    let seen = 0;
    const enough = new Promise<void>((resolve) => {
      page.on('requestfinished', (request) => {
        if (request.url().endsWith('/stream-token') && ++seen === wanted) resolve();
      });
    });
    await page.goto(frontendUrl(origin, options.api, options.behaviour, options.extra));
    if (wanted !== undefined) await Promise.race([enough, page.waitForTimeout(RECORDING_BOUND_MS)]);
    // A string, evaluated in the page: this module has no DOM types.
    else await page.waitForFunction('window.generationPage.state !== "running"', undefined, { timeout: RECORDING_BOUND_MS });
    await page.close();
  } finally {
    // The HAR is written when the context closes.
    await context.close();
  }
}
