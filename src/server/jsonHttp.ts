import type { IncomingMessage, ServerResponse } from 'node:http';

/** One FastAPI-style validation error, as found in a 422 `detail` list. */
export interface ValidationIssue {
  readonly loc: readonly (string | number)[];
  readonly msg: string;
  readonly type: string;
  readonly input?: unknown;
  readonly ctx?: Record<string, unknown>;
}

/** Body size a create request may have; more is answered 413 rather than buffered. */
const MAX_BODY_BYTES = 1024 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** `{"detail": "..."}`, the shape of every FastAPI HTTPException. */
export function sendDetail(res: ServerResponse, status: number, detail: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { detail }, headers);
}

export function sendValidationError(res: ServerResponse, issues: readonly ValidationIssue[]): void {
  sendJson(res, 422, { detail: issues });
}

export function sendUnauthenticated(res: ServerResponse): void {
  sendDetail(res, 401, 'Not authenticated', { 'WWW-Authenticate': 'Bearer' });
}

/**
 * The caller's identity: the bearer string itself, so any two distinct bearers are two users.
 * Undefined when the header is missing, not `Bearer`, or empty.
 */
export function bearerIdentity(req: IncomingMessage): string | undefined {
  const match = /^Bearer[ \t]+(.+)$/i.exec(req.headers.authorization ?? '');
  const identity = match?.[1]?.trim();
  return identity === '' ? undefined : identity;
}

export type BodyResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly status: 413 | 422; readonly issues: readonly ValidationIssue[] }
  | { readonly ok: false; readonly status: 'aborted' };

/** Reads and parses a JSON request body, reporting bad JSON the way FastAPI does. */
export async function readJsonBody(req: IncomingMessage): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        return { ok: false, status: 413, issues: [] };
      }
      chunks.push(chunk);
    }
  } catch {
    return { ok: false, status: 'aborted' };
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    return { ok: false, status: 422, issues: [{ loc: ['body'], msg: 'Field required', type: 'missing', input: null }] };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return {
      ok: false,
      status: 422,
      issues: [
        {
          loc: ['body', 0],
          msg: 'JSON decode error',
          type: 'json_invalid',
          input: {},
          ctx: { error: error instanceof Error ? error.message : String(error) },
        },
      ],
    };
  }
}
