import type { Browser } from 'playwright-core';
import { frontendUrl } from '../pages/staticServer.js';

/**
 * Loads the test frontend with `behaviour` in real Chromium for `runMs` while Chromium records a
 * HAR of everything the page sent: the evidence `analyze` reads, from real software.
 */
export async function recordHar(
  browser: Browser,
  options: { readonly pagesOrigin: string; readonly api: string; readonly behaviour: string; readonly extra?: Readonly<Record<string, string>>; readonly runMs: number; readonly harPath: string },
): Promise<void> {
  const context = await browser.newContext({ recordHar: { path: options.harPath, content: 'embed' } });
  try {
    const page = await context.newPage();
    await page.goto(frontendUrl(options.pagesOrigin, options.api, options.behaviour, options.extra));
    await page.waitForTimeout(options.runMs);
    await page.close();
  } finally {
    // The HAR is written when the context closes.
    await context.close();
  }
}
