import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Generation, GenerationStore } from './generations.js';
import { bearerIdentity, readJsonBody, sendDetail, sendJson, sendUnauthenticated, sendValidationError, type ValidationIssue } from './jsonHttp.js';
import type { ServerSettings } from './settings.js';
import type { SharedState } from './sharedState.js';

/** What the create, status and token endpoints need from the server. */
export interface GenerationRoutesContext {
  readonly settings: ServerSettings;
  readonly generations: GenerationStore;
  readonly state: SharedState;
}

/** The caller under the `no-auth` fault when it sends no credentials. */
const ANONYMOUS = 'anonymous';
const MIN_PROMPT_LENGTH = 10;

/** `POST /generations/generate`. */
export async function createGeneration(context: GenerationRoutesContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const user = caller(context, req);
  if (user === undefined) {
    sendUnauthenticated(res);
    return;
  }
  const body = await readJsonBody(req);
  if (!body.ok) {
    if (body.status === 413) sendDetail(res, 413, 'Request body too large');
    else if (body.status === 422) sendValidationError(res, body.issues);
    return;
  }
  const prompt = validPrompt(body.value);
  if (typeof prompt !== 'string') {
    sendValidationError(res, prompt);
    return;
  }
  const generation = await context.generations.create(user, prompt);
  sendJson(res, 201, {
    id: generation.id,
    // The status at creation, even when a very short generation has already moved on.
    status: 'pending',
    prompt: generation.prompt,
    created_at: generation.createdAt,
  });
}

/** `GET /generations/{id}`. */
export async function generationStatus(context: GenerationRoutesContext, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
  const user = caller(context, req);
  if (user === undefined) {
    sendUnauthenticated(res);
    return;
  }
  const generation = await context.generations.find(id);
  if (!generation || !isVisibleTo(context, generation, user)) {
    sendDetail(res, 404, 'Generation not found');
    return;
  }
  sendJson(res, 200, {
    id: generation.id,
    status: generation.status,
    error_message: generation.errorMessage,
    progress: generation.progress,
    prompt: generation.prompt,
    created_at: generation.createdAt,
  });
}

/** `POST /generations/generate/{id}/stream-token`, its checks in the seed's order. */
export async function issueStreamToken(context: GenerationRoutesContext, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
  const { settings, generations, state } = context;
  const user = caller(context, req);
  if (user === undefined) {
    sendUnauthenticated(res);
    return;
  }
  const generation = await generations.find(id);
  if (!generation || (!settings.has('cross-user') && !isVisibleTo(context, generation, user))) {
    sendDetail(res, 404, 'Generation not found');
    return;
  }
  if (!settings.has('no-rate-limit')) {
    // Counted before the terminal checks, so a client hammering a failed generation is limited too.
    const verdict = await state.checkRate(`${user}\u0000${id}`);
    if (!verdict.allowed) {
      const { rateLimit: limit, rateWindowMs } = settings.timings;
      sendDetail(
        res,
        429,
        `Too many token requests. Maximum ${limit} requests per ${windowText(rateWindowMs)}. Please wait before retrying.`,
        { 'Retry-After': String(verdict.retryAfterSeconds) },
      );
      return;
    }
  }
  if (!settings.has('immediate-close')) {
    if (generation.status === 'failed' || generation.status === 'cancelled') {
      if (settings.has('terminal-500') && generation.status === 'failed') {
        sendDetail(res, 500, 'Internal Server Error');
      } else {
        sendDetail(res, 400, `Generation has ${generation.status}. Error: ${generation.errorMessage}. Cannot stream.`);
      }
      return;
    }
    if (generation.status === 'completed') {
      sendDetail(res, 400, 'Generation already completed. Streaming not available.');
      return;
    }
  }
  const token = await state.issueToken(id);
  sendJson(res, 200, {
    sse_token: token,
    expires_in: settings.timings.tokenTtlMs / 1000,
    // Seed 002's shape: relative to the API root, without the token (the client adds `?token=`).
    stream_url: `/generations/generate/${id}/stream`,
    generation_id: id,
  });
}

/** The bearer's identity; under `no-auth` a request without one is the anonymous user. */
function caller(context: GenerationRoutesContext, req: IncomingMessage): string | undefined {
  return bearerIdentity(req) ?? (context.settings.has('no-auth') ? ANONYMOUS : undefined);
}

/**
 * Owners see their generations. Under `no-auth` the anonymous caller sees all of them, like a
 * backend whose auth dependency was left out and so has no user to filter by.
 */
function isVisibleTo(context: GenerationRoutesContext, generation: Generation, user: string): boolean {
  return generation.owner === user || (user === ANONYMOUS && context.settings.has('no-auth'));
}

/** The prompt, or the FastAPI validation errors of the body. */
function validPrompt(body: unknown): string | ValidationIssue[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return [{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: body }];
  }
  const prompt = (body as { prompt?: unknown }).prompt;
  if (prompt === undefined) {
    return [{ type: 'missing', loc: ['body', 'prompt'], msg: 'Field required', input: body }];
  }
  if (typeof prompt !== 'string') {
    return [{ type: 'string_type', loc: ['body', 'prompt'], msg: 'Input should be a valid string', input: prompt }];
  }
  if (prompt.length < MIN_PROMPT_LENGTH) {
    return [
      {
        type: 'string_too_short',
        loc: ['body', 'prompt'],
        msg: `String should have at least ${MIN_PROMPT_LENGTH} characters`,
        input: prompt,
        ctx: { min_length: MIN_PROMPT_LENGTH },
      },
    ];
  }
  return prompt;
}

function windowText(windowMs: number): string {
  return windowMs === 60_000 ? 'minute' : `${windowMs / 1000} seconds`;
}
