import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../browser/chromium.js';
import { redactStreamUrl } from '../engine/secrets.js';
import { UsageError } from '../errors.js';
import type { JudgeCase } from './cases.js';
import type { DrivenClient } from './runner.js';

/** What a `--page-script` module's default export receives. */
export interface PageScriptContext {
  readonly page: Page;
  /** The judge's API base URL. */
  readonly api: string;
  /** The case about to be applied. */
  readonly caseName: string;
}

export type PageScript = (context: PageScriptContext) => Promise<void> | void;

/** Enough of the browser's story to explain a case; the rest is noise. */
const MAX_LINES = 200;
/** Written as `{api}` in `--page`: replaced by the judge's URL, URL-encoded. */
const API_PLACEHOLDER = '{api}';

/** The page under test in headless Chromium, a fresh browser context for every case. */
export async function startPageClient(pageUrl: string, api: string, scriptFile: string | undefined): Promise<DrivenClient & { close(): Promise<void> }> {
  const script = scriptFile === undefined ? undefined : await loadPageScript(scriptFile);
  const browser: Browser = await launchChromium();
  const url = pageUrl.split(API_PLACEHOLDER).join(encodeURIComponent(api));
  return {
    open: async (judgeCase: JudgeCase) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const consoleErrors: string[] = [];
      const network: string[] = [];
      const note = (lines: string[], line: string) => {
        if (lines.length < MAX_LINES) lines.push(redactTokens(line));
      };
      page.on('console', (message) => {
        if (message.type() === 'error') note(consoleErrors, message.text());
      });
      page.on('pageerror', (error) => note(consoleErrors, `uncaught ${error.name}: ${error.message}`));
      page.on('response', (response) => note(network, `${response.request().method()} ${response.url()} -> ${response.status()}`));
      page.on('requestfailed', (request) => note(network, `${request.method()} ${request.url()} -> failed (${request.failure()?.errorText ?? 'unknown'})`));
      try {
        await page.goto(url, { waitUntil: 'domcontentloaded' });
        await script?.({ page, api, caseName: judgeCase.name });
      } catch (error) {
        note(consoleErrors, `sse-doctor: ${(error as Error).message.split('\n')[0]}`);
      }
      return {
        close: async () => {
          await context.close();
          return { consoleErrors, network };
        },
      };
    },
    close: () => browser.close(),
  };
}

async function loadPageScript(file: string): Promise<PageScript> {
  let loaded: { default?: unknown };
  try {
    loaded = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown };
  } catch (error) {
    throw new UsageError(`--page-script: cannot load ${file} (${(error as Error).message.split('\n')[0]})`, { cause: error });
  }
  if (typeof loaded.default !== 'function') throw new UsageError(`--page-script: ${file} must export a default function ({ page, api, caseName }) that starts a generation`);
  return loaded.default as PageScript;
}

/** Stream tokens ride in URLs and console lines; only their ends are kept. */
function redactTokens(line: string): string {
  return line.replace(/https?:\/\/[^\s"'<>]+/g, (url) => redactStreamUrl(url));
}
