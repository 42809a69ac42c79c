import type { IncomingMessage } from 'node:http';

/**
 * The id a reconnecting client last saw: the `Last-Event-ID` header, or a `lastEventId` query
 * parameter for clients that cannot set headers. 0 (replay everything) when absent or not a
 * non-negative integer, since every id this server sends is one.
 */
export function lastEventId(req: IncomingMessage, url: URL): number {
  const raw = req.headers['last-event-id'] ?? url.searchParams.get('lastEventId') ?? '';
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value.trim()) : 0;
}
