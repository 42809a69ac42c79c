import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The test frontends' folder. */
export const PAGES_DIR = fileURLToPath(new URL('.', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

/** A running static server for the test pages. */
export interface StaticServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly origin: string;
  close(): Promise<void>;
}

/**
 * Serves `dir` on 127.0.0.1 at a free port, so a page loaded from it is cross-origin to the API
 * under test, as a real frontend is.
 */
export async function startStaticServer(dir: string = PAGES_DIR): Promise<StaticServer> {
  const server = createServer((req, res) => {
    const path = normalize(new URL(req.url ?? '/', 'http://pages').pathname);
    const type = CONTENT_TYPES[extname(path)];
    if (path.includes('..') || type === undefined) {
      res.writeHead(404).end();
      return;
    }
    readFile(join(dir, path)).then(
      (body) => res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The URL of the test frontend with `behaviour` against the API at `api`. */
export function frontendUrl(origin: string, api: string, behaviour: string, extra: Readonly<Record<string, string>> = {}): string {
  const query = new URLSearchParams({ api, behaviour, ...extra });
  return `${origin}/frontend.html?${query.toString()}`;
}
