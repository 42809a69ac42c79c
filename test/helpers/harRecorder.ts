import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { frontendUrl, PAGES_DIR } from '../pages/staticServer.js';

/**
 * Loads the test frontend with `behaviour` in real Chromium for `runMs` while Chromium records a
 * HAR of everything the page sent: the evidence `analyze` reads, from real software. The page is
 * served at the API's own origin (the browser answers for its two files), so it needs no CORS
 * from the backend: the FastAPI one has none, as many real backends behind one origin.
 */
export async function recordHar(
  browser: Browser,
  options: { readonly api: string; readonly behaviour: string; readonly extra?: Readonly<Record<string, string>>; readonly runMs: number; readonly harPath: string },
): Promise<void> {
  const { origin } = new URL(options.api);
  const context = await browser.newContext({ recordHar: { path: options.harPath, content: 'embed' } });
  try {
    const page = await context.newPage();
    for (const [file, contentType] of [['frontend.html', 'text/html'], ['frontend.js', 'text/javascript']] as const) {
      const body = readFileSync(join(PAGES_DIR, file), 'utf8');
      await page.route((url) => url.origin === origin && url.pathname === `/${file}`, (route) => route.fulfill({ contentType, body }));
    }
    await page.goto(frontendUrl(origin, options.api, options.behaviour, options.extra));
    await page.waitForTimeout(options.runMs);
    await page.close();
  } finally {
    // The HAR is written when the context closes.
    await context.close();
  }
}
