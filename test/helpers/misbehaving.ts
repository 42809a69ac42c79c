import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createBrotliCompress, createDeflate, createGzip } from 'node:zlib';
import type { AddressInfo } from 'node:net';

/** A route of a misbehaving server: it gets the raw request and response and does its worst. */
export type Misbehaviour = (req: IncomingMessage, res: ServerResponse) => void;

export interface MisbehavingServer {
  readonly url: (path: string) => string;
  /** Requests seen per path, with their Last-Event-ID headers. */
  readonly requests: { path: string; lastEventId: string | undefined }[];
  close(): Promise<void>;
}

/** A `node:http` server on 127.0.0.1:0 with named misbehaviours (`/stalled`, `/reset`, …). */
export async function startMisbehavingServer(routes: Record<string, Misbehaviour>): Promise<MisbehavingServer> {
  const requests: MisbehavingServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ path, lastEventId: req.headers['last-event-id'] as string | undefined });
    const route = routes[path];
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    route(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const sseHeaders = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

/** Writes `chunks` one by one with `delayMs` between them, then ends (or not). */
export function writeChunks(res: ServerResponse, chunks: (string | Buffer)[], delayMs: number, end = true): void {
  res.writeHead(200, sseHeaders);
  res.flushHeaders();
  let index = 0;
  const next = () => {
    if (res.destroyed) return;
    if (index >= chunks.length) {
      if (end) res.end();
      return;
    }
    res.write(chunks[index++]);
    setTimeout(next, delayMs);
  };
  next();
}

/** Splits a buffer into pieces of `size` bytes: the awkward chunk boundaries of real networks. */
export function splitBytes(text: string | Buffer, size: number): Buffer[] {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) pieces.push(bytes.subarray(offset, offset + size));
  return pieces;
}

/**
 * Writes `events` compressed with `encoding` as a compressing proxy does with flushing on:
 * one flushed block per event, `delayMs` apart, then the end of the compressed stream.
 */
export function writeCompressed(res: ServerResponse, encoding: 'gzip' | 'deflate' | 'br', events: string[], delayMs: number, headers: Record<string, string> = {}): void {
  res.writeHead(200, { ...sseHeaders, 'content-encoding': encoding, ...headers });
  const compressor = encoding === 'gzip' ? createGzip() : encoding === 'deflate' ? createDeflate() : createBrotliCompress();
  compressor.on('data', (chunk: Buffer) => res.write(chunk));
  compressor.on('end', () => res.end());
  let index = 0;
  const next = () => {
    if (res.destroyed) return;
    if (index >= events.length) return void compressor.end();
    compressor.write(events[index++]);
    compressor.flush(() => setTimeout(next, delayMs));
  };
  next();
}
