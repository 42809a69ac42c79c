import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What a misbehaving proxy in front of a backend does, as the real ones are configured:
 * - `hold-all`: nginx with `proxy_buffering on` over HTTP/1.0: nothing, headers included,
 *   reaches the client before the backend's response has ended;
 * - `idle-timeout`: `proxy_read_timeout`: a response that sends no byte for `ms` is cut (the
 *   client's connection closed mid-body, as nginx does).
 */
export type PathFault = { readonly kind: 'hold-all' } | { readonly kind: 'idle-timeout'; readonly ms: number };

export interface PathProxy {
  /** `url` with the proxy's origin in place of the backend's. */
  readonly via: (url: string) => string;
  close(): Promise<void>;
}

/** A node:http proxy on 127.0.0.1:0 in front of `target`'s origin, announcing itself with `Via`. */
export async function startPathProxy(target: string, fault: PathFault): Promise<PathProxy> {
  const origin = new URL(target);
  const server: Server = createServer((req, res) => {
    const upstream = request({ hostname: origin.hostname, port: origin.port, method: req.method, path: req.url, headers: { ...req.headers, host: origin.host } }, (response) => {
      const headers: IncomingHttpHeaders = { ...response.headers, via: '1.1 test-proxy' };
      delete headers['transfer-encoding'];
      delete headers.connection;
      if (fault.kind === 'hold-all') {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => res.writeHead(response.statusCode ?? 502, headers).end(Buffer.concat(chunks)));
        return;
      }
      res.writeHead(response.statusCode ?? 502, headers);
      let idle: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          response.destroy();
          res.socket?.destroy();
        }, fault.ms);
      };
      arm();
      response.on('data', (chunk: Buffer) => {
        arm();
        res.write(chunk);
      });
      response.on('end', () => {
        clearTimeout(idle);
        res.end();
      });
      res.on('close', () => clearTimeout(idle));
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    via: (url) => {
      const rewritten = new URL(url);
      rewritten.host = `127.0.0.1:${port}`;
      return rewritten.href;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
