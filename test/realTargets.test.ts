import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STARTUP_TIMEOUT_MS, startFastApiBackend, startSseStarlette, type PythonTarget } from './helpers/realTargets.js';
import { rawGet } from './helpers/rawStream.js';
import { call } from './helpers/referenceClient.js';

/**
 * The real targets answer as the seed documents say (seed 002's bodies, FastAPI's own 422) on
 * the venv's fastapi, and on Debian's python3-fastapi 0.92 / pydantic 1 when this machine has it.
 */

const DEBIAN_PYTHON = '/usr/bin/python3';
const hasDebianFastApi = (() => {
  try {
    execFileSync(DEBIAN_PYTHON, ['-c', 'import fastapi, uvicorn'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const PROMPT = 'Create a REST API with authentication';
const TIMINGS = { generationMs: 800, heartbeatMs: 200, rateLimit: 10, rateWindowMs: 60_000 };

const interpreters: [string, string | undefined][] = [['the venv', undefined]];
if (hasDebianFastApi) interpreters.push(["Debian's fastapi 0.92", DEBIAN_PYTHON]);

describe.each(interpreters)('the FastAPI backend on %s', (_name, python) => {
  let backend: PythonTarget;
  beforeAll(async () => {
    const previous = process.env.SSE_DOCTOR_PYTHON;
    if (python) process.env.SSE_DOCTOR_PYTHON = python;
    try {
      backend = await startFastApiBackend({ timings: TIMINGS });
    } finally {
      if (python) process.env.SSE_DOCTOR_PYTHON = previous ?? '';
    }
  }, STARTUP_TIMEOUT_MS * 2);
  afterAll(() => backend?.close());

  const create = async (prompt = PROMPT, user = 'alice') => {
    const reply = await call(backend.baseUrl, 'POST', '/generations/generate', { user, body: { prompt, project_id: null } });
    expect(reply.status).toBe(201);
    return reply.body;
  };
  /** `null` sends no Authorization. */
  const token = (id: string, user: string | null = 'alice') => call(backend.baseUrl, 'POST', `/generations/generate/${id}/stream-token`, { user: user ?? undefined });
  const waitFor = async (id: string, status: string) => {
    for (let attempt = 0; attempt < 200; attempt++) {
      if ((await call(backend.baseUrl, 'GET', `/generations/${id}`, { user: 'alice' })).body.status === status) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`never ${status}`);
  };

  it("create answers 201 with seed 002's fields; a short prompt is FastAPI's own 422", async () => {
    const body = await create();
    expect(body).toMatchObject({ status: 'pending', user_id: 'alice', project_domain: 'general', auto_created_project: true, prompt: PROMPT });
    expect(body.project_name).toBe('Rest Api');
    const short = await call(backend.baseUrl, 'POST', '/generations/generate', { user: 'alice', body: { prompt: 'short' } });
    expect(short.status).toBe(422);
    expect(short.body.detail[0].loc).toEqual(['body', 'prompt']);
  });

  it("the token answer is seed 002's: no token in stream_url, relative to the API root", async () => {
    const { id } = await create();
    const reply = await token(id);
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.body).sort()).toEqual(['expires_in', 'generation_id', 'sse_token', 'stream_url']);
    expect(reply.body.stream_url).toBe(`/generations/generate/${id}/stream`);
    expect(reply.body.sse_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(reply.body.expires_in).toBe(60);
  });

  it('a stream without ?token= is FastAPI 422 on query.token; a used token is 401', async () => {
    const { id } = await create();
    const missing = await call(backend.baseUrl, 'GET', `/generations/generate/${id}/stream`);
    expect(missing.status).toBe(422);
    expect(missing.body.detail).toEqual([expect.objectContaining({ loc: ['query', 'token'] })]);
    const { sse_token: sseToken } = (await token(id)).body;
    const first = await rawGet(`${backend.baseUrl}/generations/generate/${id}/stream?token=${sseToken}`);
    expect(first.events[0]?.data).toContain('"stage":"connected"');
    expect(first.events.at(-1)?.event).toBe('complete');
    expect(first.ending).toBe('eof');
    expect(first.headers['x-accel-buffering']).toBe('no');
    const again = await call(backend.baseUrl, 'GET', `/generations/generate/${id}/stream?token=${sseToken}`);
    expect(again.status).toBe(401);
  });

  it('auth, owner and the terminal 400 naming the status, then 429 with Retry-After on the 11th request', async () => {
    const { id } = await create('Please fail this generation on purpose');
    expect((await token(id, null)).status).toBe(401);
    expect((await token(id, 'bob')).status).toBe(404);
    await waitFor(id, 'failed');
    const statuses: number[] = [];
    let last;
    for (let request = 0; request < 11; request++) {
      last = await token(id);
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 10).every((status) => status === 400)).toBe(true);
    expect(statuses[10]).toBe(429);
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    expect(last!.body.detail).toMatch(/Too many token requests/);
  });

  it("keeps uvicorn's access log where the harness said", () => {
    expect(readFileSync(backend.accessLogPath, 'utf8')).toMatch(/"POST \/api\/generations\/generate HTTP\/1\.1" 201/);
  });
});

describe('the sse-starlette app', () => {
  let app: PythonTarget;
  beforeAll(async () => {
    app = await startSseStarlette({ pingSeconds: 0.1 });
  }, STARTUP_TIMEOUT_MS * 2);
  afterAll(() => app?.close());

  it('a typed stream ending with a complete event, sse-starlette pings between', async () => {
    const capture = await rawGet(`${app.baseUrl}/events?count=3&interval_ms=250`);
    expect(capture.events.map((event) => event.event)).toEqual(['content_chunk', 'content_chunk', 'content_chunk', 'complete']);
    expect(capture.comments.some((comment) => comment.text.startsWith('ping'))).toBe(true);
    expect(capture.ending).toBe('eof');
  });

  it('an OpenAI-style chat completion stream ending with data: [DONE], then the close', async () => {
    const capture = await rawGet(`${app.baseUrl}/v1/chat/completions?count=3&interval_ms=50`);
    expect(capture.events.at(-1)?.data).toBe('[DONE]');
    const chunks = capture.events.slice(0, -1).map((event) => JSON.parse(event.data));
    expect(chunks.every((chunk) => chunk.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.map((chunk) => chunk.choices[0].delta.content ?? '').join('')).toBe('Server-Sent Events');
    expect(capture.ending).toBe('eof');
  });
});
