import { existsSync } from 'node:fs';
import type { Browser, LaunchOptions } from 'playwright-core';
import { UsageError } from '../errors.js';

/** Where Debian (and most distributions) put Chromium; `SSE_DOCTOR_CHROMIUM` overrides it. */
const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/**
 * Flags for a headless Chromium on a closed network: without the background-networking ones it
 * opens connections to Google's hosts at every start, and those are refused here.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The Chromium executable this machine has, or a usage error that says how to get one. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  const path = env.SSE_DOCTOR_CHROMIUM || DEFAULT_CHROMIUM;
  if (!existsSync(path)) {
    throw new UsageError(`no Chromium at ${path}: install it (Debian/Ubuntu: apt-get install -y chromium) or set SSE_DOCTOR_CHROMIUM to its path`);
  }
  return path;
}

/** Launches the system's headless Chromium through playwright-core (which never downloads a browser). */
export async function launchChromium(options: Omit<LaunchOptions, 'executablePath'> = {}, env: NodeJS.ProcessEnv = process.env): Promise<Browser> {
  const executablePath = chromiumPath(env);
  const { chromium } = await import('playwright-core');
  return chromium.launch({ ...options, executablePath, args: [...CHROMIUM_ARGS, ...(options.args ?? [])] });
}
