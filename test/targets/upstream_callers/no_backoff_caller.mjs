/* global process, fetch, setTimeout */
// A backend's calls to an upstream LLM API without backoff: on a 429, a 5xx or a broken stream it
// sends the call again at once (at most 5 times), Retry-After ignored. The death loop seed 004 fixed.
//
//   node no_backoff_caller.mjs http://127.0.0.1:PORT
//
// Driven by `sse-doctor judge --upstream openai` through GET /__judge/next, like seed004_caller.py.
const base = process.argv[2];
const MAX_RETRIES = 5;

async function chatOnce() {
  const response = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'judge', stream: true, messages: [{ role: 'user', content: 'Say something about rate limits' }] }),
  });
  if (response.status === 429 || response.status >= 500) return 'retry';
  if (!response.ok) return 'done';
  const text = await response.text();
  return text.includes('data: [DONE]') ? 'done' : 'retry';
}

async function chat() {
  for (let retry = 0; retry <= MAX_RETRIES; retry++) {
    const outcome = await chatOnce().catch(() => 'retry');
    if (outcome === 'done') return;
  }
}

for (;;) {
  let waiting;
  try {
    waiting = await (await fetch(`${base}/__judge/next`)).json();
  } catch {
    break;
  }
  if (!waiting.case) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    continue;
  }
  await Promise.all(Array.from({ length: waiting.users }, chat));
}
