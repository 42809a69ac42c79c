import type { Browser } from 'playwright-core';

/**
 * How a frontend page behaves around its event stream: the seed's naive client, the fixed one
 * (CONTRACT.md's policy) and two in between. Each is a few numbers the page's script reads.
 */
export interface FrontendBehaviour {
  /** Stop once an event with a terminal status or stage arrives. */
  readonly stopOnTerminal: boolean;
  /** Token or stream statuses after which the page gives up. */
  readonly stopStatuses: readonly number[];
  /** On 429: wait Retry-After (true) or retry at once (false). */
  readonly honour429: boolean;
  /** Delays before retry 1, 2, ... (ms); [] = at once. */
  readonly delaysMs: readonly number[];
  /** Gives up after this many retries in a row; 0 = never. */
  readonly maxRetries: number;
}

export const FRONTENDS = {
  naive: { stopOnTerminal: true, stopStatuses: [], honour429: false, delaysMs: [], maxRetries: 0 },
  fixed: { stopOnTerminal: true, stopStatuses: [400, 401, 403, 404, 422], honour429: true, delaysMs: [2000, 4000, 8000, 16000, 32000], maxRetries: 5 },
  /** Backs off but never reads a status: retries after 400 and inside the 429 window. */
  backoffOnly: { stopOnTerminal: true, stopStatuses: [], honour429: false, delaysMs: [200, 400, 800], maxRetries: 0 },
  /** Stops on terminal answers and waits out a 429, but reconnects at once after a bare close. */
  noBackoff: { stopOnTerminal: true, stopStatuses: [400, 401, 403, 404, 422], honour429: true, delaysMs: [], maxRetries: 0 },
} as const satisfies Record<string, FrontendBehaviour>;

/** The page's script: status, then token and EventSource in a loop that follows `behaviour`. */
function pageHtml(apiPath: string, generationId: string, jwt: string, behaviour: FrontendBehaviour): string {
  const config = JSON.stringify({ apiPath, generationId, jwt, behaviour });
  return `<!doctype html><html><body><pre id="log"></pre><script>
const { apiPath, generationId, jwt, behaviour } = ${config};
const auth = { Authorization: 'Bearer ' + jwt };
const terminalStatuses = ['completed', 'failed', 'cancelled'];
const terminalStages = ['complete', 'terminal', 'error', 'timeout'];
let retries = 0;
const log = (line) => (document.getElementById('log').textContent += line + '\\n');
function retry(afterMs) {
  retries++;
  if (behaviour.maxRetries > 0 && retries > behaviour.maxRetries) return log('gave up');
  const delay = afterMs ?? (behaviour.delaysMs.length === 0 ? 0 : behaviour.delaysMs[Math.min(retries, behaviour.delaysMs.length) - 1]);
  setTimeout(connect, delay);
}
async function connect() {
  let response;
  try {
    response = await fetch(apiPath + '/generations/generate/' + generationId + '/stream-token', { method: 'POST', headers: auth });
  } catch (error) {
    return retry();
  }
  if (response.status !== 200) {
    if (behaviour.stopStatuses.includes(response.status)) return log('stopped on ' + response.status);
    if (response.status === 429 && behaviour.honour429) return retry(Number(response.headers.get('Retry-After') || 60) * 1000);
    return retry();
  }
  const { sse_token } = await response.json();
  const source = new EventSource(apiPath + '/generations/generate/' + generationId + '/stream?token=' + encodeURIComponent(sse_token));
  source.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (behaviour.stopOnTerminal && (terminalStatuses.includes(data.status) || terminalStages.includes(data.stage))) {
      source.close();
      log('terminal');
    }
  };
  source.onerror = () => {
    source.close();
    retry();
  };
}
fetch(apiPath + '/generations/' + generationId, { headers: auth }).then((r) => r.json()).then((g) => log('status ' + g.status)).finally(connect);
</script></body></html>`;
}

/**
 * Loads a frontend page for one generation in real Chromium for `runMs`, recording a HAR. The page
 * is served at the API's own origin (routed by the browser), so its requests are same-origin.
 */
export async function recordHar(
  browser: Browser,
  options: { readonly baseUrl: string; readonly generationId: string; readonly jwt: string; readonly behaviour: FrontendBehaviour; readonly runMs: number; readonly harPath: string },
): Promise<void> {
  const api = new URL(options.baseUrl);
  const pageUrl = `${api.origin}/frontend/index.html`;
  const context = await browser.newContext({ recordHar: { path: options.harPath, content: 'embed' } });
  try {
    const page = await context.newPage();
    await page.route(pageUrl, (route) => route.fulfill({ contentType: 'text/html', body: pageHtml(api.pathname, options.generationId, options.jwt, options.behaviour) }));
    await page.goto(pageUrl);
    await page.waitForTimeout(options.runMs);
    await page.close();
  } finally {
    await context.close();
  }
}
