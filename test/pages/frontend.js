// A generations frontend for the tests: plain JS, no build step, one page for every behaviour.
//
//   frontend.html?api=http://127.0.0.1:PORT/api&behaviour=fixed&auth=alice&prompt=...&scale=0.05
//
// behaviour (default fixed):
//   fixed             seed 000's "Frontend Requirements": stop on a terminal event and on a token
//                     answer of 400/401/403/404/422; on 429 wait Retry-After seconds (60 without it);
//                     on a dropped connection or 15 s without an event, reconnect with a fresh token
//                     and Last-Event-ID after 2, 4, 8, 16, 32 s, at most 5 times, then give up with
//                     a clear message. A connection that brings a new event starts the count again.
//   naive             the seed 000 bug: on every close or error, a fresh token and a reconnect at
//                     once, forever (terminal events, 400s and 429s included).
//   retry-400-once    fixed, but a 400 from the token endpoint is asked again once, at once.
//   short-429-wait    fixed, but waits 5 s after any 429, whatever Retry-After said.
//   no-backoff        fixed, but reconnects at once (still at most 5 times).
//   no-max-retries    fixed, but never gives up.
//   no-last-event-id  fixed, but never says which event it saw last.
//   reuses-token      fixed, but reconnects with the single-use token it already used.
// scale multiplies the page's own waits (backoff, the 429 fallback, the silence watchdog), so tests
// run fast; a Retry-After the server sends is honoured as sent.
// auth is the bearer (default alice); prompt the generation's prompt; generation=ID streams an
// existing generation instead of creating one; start=click waits for a click on #generate.
//
// The stream is a browser EventSource, so the token rides in the query and Last-Event-ID goes
// as the `lastEventId` query parameter (a new EventSource cannot set headers).
// window.generationPage exposes the page's state: running | completed | stopped | gave-up.
/* global window, document, location, URL, URLSearchParams, fetch, EventSource, MessageEvent, setTimeout, clearTimeout */
'use strict';
(() => {
  const params = new URLSearchParams(location.search);
  const api = (params.get('api') || `${location.origin}/api`).replace(/\/+$/, '');
  const behaviour = params.get('behaviour') || 'fixed';
  const auth = params.get('auth') || 'alice';
  const prompt = params.get('prompt') || 'Write a short poem about patient retries';
  const scale = Number(params.get('scale') || '1');

  const RETRY_DELAYS_MS = [2000, 4000, 8000, 16000, 32000];
  const MAX_RETRIES = 5;
  const SILENCE_MS = 15000;
  const RATE_LIMIT_FALLBACK_S = 60;
  const SHORT_429_WAIT_S = 5;
  const STOP_STATUSES = [400, 401, 403, 404, 422];
  const TERMINAL_STATUSES = ['failed', 'cancelled', 'completed'];
  const TERMINAL_STAGES = ['terminal', 'timeout', 'error', 'complete'];
  // Named events never reach onmessage: each type the contract mentions gets its listener.
  const EVENT_TYPES = ['message', 'progress', 'status', 'content_chunk', 'complete', 'heartbeat', 'connected', 'terminal', 'timeout'];

  const page = { behaviour, state: 'running', message: '', retries: 0, connections: 0, events: 0, generationId: undefined };
  window.generationPage = page;

  let lastEventId;
  let usedGrant;
  let source;
  let watchdog;
  let retried400 = false;

  const show = (text) => {
    document.getElementById('status').textContent = text;
  };

  function finish(state, message) {
    closeStream();
    page.state = state;
    page.message = message;
    show(message);
  }

  function closeStream() {
    clearTimeout(watchdog);
    if (source) source.close();
    source = undefined;
  }

  // waitMs: a wait the server asked for (already real time); otherwise the scaled backoff.
  function retryLater(reason, waitMs) {
    closeStream();
    if (behaviour === 'naive') {
      connect();
      return;
    }
    if (page.retries >= MAX_RETRIES && behaviour !== 'no-max-retries') {
      finish('gave-up', `Could not reach the generation after ${MAX_RETRIES} retries (${reason}). Please try again later.`);
      return;
    }
    const backoff = behaviour === 'no-backoff' ? 0 : RETRY_DELAYS_MS[Math.min(page.retries, RETRY_DELAYS_MS.length - 1)];
    const delay = waitMs ?? backoff * scale;
    page.retries++;
    show(`${reason}: retry ${page.retries} in ${Math.round(delay)} ms`);
    setTimeout(connect, delay);
  }

  async function detailOf(response) {
    try {
      const body = await response.json();
      return typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
    } catch {
      return `HTTP ${response.status}`;
    }
  }

  function rateLimitWaitMs(response) {
    if (behaviour === 'short-429-wait') return SHORT_429_WAIT_S * 1000 * scale;
    const value = (response.headers.get('Retry-After') || '').trim();
    return /^\d+$/.test(value) ? Number(value) * 1000 : RATE_LIMIT_FALLBACK_S * 1000 * scale;
  }

  async function tokenRefused(response) {
    const detail = await detailOf(response);
    if (behaviour === 'naive') {
      retryLater(`token endpoint answered ${response.status}`);
      return;
    }
    if (response.status === 429) {
      retryLater('Too many requests. Please wait', rateLimitWaitMs(response));
      return;
    }
    if (response.status === 400 && behaviour === 'retry-400-once' && !retried400) {
      retried400 = true;
      connect();
      return;
    }
    if (STOP_STATUSES.includes(response.status)) {
      finish(detail.includes('completed') ? 'completed' : 'stopped', `Cannot stream this generation: ${detail}`);
      return;
    }
    retryLater(`token endpoint answered ${response.status}`);
  }

  async function connect() {
    let grant = behaviour === 'reuses-token' ? usedGrant : undefined;
    if (!grant) {
      let response;
      try {
        response = await fetch(`${api}/generations/generate/${encodeURIComponent(page.generationId)}/stream-token`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${auth}` },
        });
      } catch (error) {
        retryLater(`token request failed (${error.message})`);
        return;
      }
      if (!response.ok) {
        await tokenRefused(response);
        return;
      }
      try {
        grant = await response.json();
      } catch {
        retryLater('token answer was not JSON');
        return;
      }
    }
    open(grant);
  }

  // stream_url comes in every shape backends use (docs/contract.md): absent, relative to the API root,
  // origin-relative, absolute, with or without the token.
  function streamUrl(grant) {
    const apiUrl = new URL(api);
    const given = typeof grant.stream_url === 'string' ? grant.stream_url : '';
    let url;
    if (given === '') url = new URL(`${api}/generations/generate/${encodeURIComponent(page.generationId)}/stream`);
    else if (/^https?:\/\//i.test(given)) url = new URL(given);
    else if (given.startsWith(`${apiUrl.pathname.replace(/\/+$/, '')}/`)) url = new URL(given, apiUrl.origin);
    else url = new URL(`${api}${given.startsWith('/') ? '' : '/'}${given}`);
    url.searchParams.set('token', grant.sse_token);
    return url;
  }

  function armWatchdog() {
    clearTimeout(watchdog);
    if (behaviour === 'naive') return;
    watchdog = setTimeout(() => retryLater(`no event for ${SILENCE_MS / 1000} s`), SILENCE_MS * scale);
  }

  function isTerminal(type, data) {
    return type === 'complete' || TERMINAL_STATUSES.includes(data.status) || TERMINAL_STAGES.includes(data.stage);
  }

  function onEvent(stream, event) {
    if (stream !== source) return;
    armWatchdog();
    page.events++;
    if (event.lastEventId) lastEventId = event.lastEventId;
    let data = {};
    try {
      data = JSON.parse(event.data);
    } catch {
      // Not JSON: shown as it is, and never terminal.
    }
    if (event.type !== 'heartbeat' && data.stage !== 'connected') page.retries = 0;
    if (typeof data.progress === 'number') document.getElementById('progress').textContent = `${Math.round(data.progress * 100)} %`;
    if (behaviour !== 'naive' && isTerminal(event.type, data)) {
      const failed = data.status === 'failed' || data.status === 'cancelled' || data.stage === 'error' || data.stage === 'timeout';
      finish(failed ? 'stopped' : 'completed', failed ? `Generation ${data.status || data.stage}: ${data.message || ''}` : 'Generation complete');
    }
  }

  function open(grant) {
    const url = streamUrl(grant);
    if (lastEventId !== undefined && behaviour !== 'no-last-event-id') url.searchParams.set('lastEventId', lastEventId);
    usedGrant = grant;
    page.connections++;
    const stream = new EventSource(url);
    source = stream;
    // From the headers on: a busy machine's slow connect is not the server's silence.
    stream.addEventListener('open', () => {
      if (stream === source) armWatchdog();
    });
    for (const type of EVENT_TYPES) stream.addEventListener(type, (event) => onEvent(stream, event));
    stream.addEventListener('error', (event) => {
      // A server's `event: error` is a MessageEvent; a connection error is a plain Event.
      if (event instanceof MessageEvent) onEvent(stream, event);
      else if (stream === source) retryLater(stream.readyState === EventSource.CLOSED ? 'stream refused' : 'connection lost');
    });
  }

  async function start() {
    page.generationId = params.get('generation') || undefined;
    if (!page.generationId) {
      let response;
      try {
        response = await fetch(`${api}/generations/generate`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${auth}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ prompt }),
        });
      } catch (error) {
        finish('stopped', `Could not start the generation: ${error.message}`);
        return;
      }
      if (!response.ok) {
        finish('stopped', `Could not start the generation: ${await detailOf(response)}`);
        return;
      }
      page.generationId = (await response.json()).id;
    }
    show(`generation ${page.generationId}: streaming`);
    connect();
  }

  if (params.get('start') === 'click') {
    const button = document.createElement('button');
    button.id = 'generate';
    button.textContent = 'Generate';
    button.addEventListener('click', () => start(), { once: true });
    document.body.append(button);
    show('waiting for a click on Generate');
  } else {
    start();
  }
})();
