import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

// A tiny SSE server that writes events as fast as the socket drains, for the one-fast-stream
// figure: it must outrun the client, so it sends one prebuilt buffer again and again.
const EVENT = 'data: {"n":1}\n\n';
const CHUNK = Buffer.from(EVENT.repeat(Math.floor(65_536 / EVENT.length)));

const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let open = true;
  req.on('close', () => (open = false));
  const pump = () => {
    while (open && res.write(CHUNK));
    if (open) res.once('drain', pump);
  };
  pump();
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}/blast\n`));
