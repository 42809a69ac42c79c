import { describe, expect, it } from 'vitest';
import { Redactor, redactStreamUrl, shortenToken } from '../src/engine/secrets.js';
import { terminalSafe, terminalSafeDeep } from '../src/reporters/terminalText.js';

const TOKEN = 'iie1Vq30C33_abcdefghijklmnop';

describe('Redactor: one layer for every writer (issue 11 §5)', () => {
  it('hides a registered bearer however it is spelled (as is, URL-encoded, JSON-escaped)', () => {
    const redactor = new Redactor();
    redactor.add('s3cr3t/with"quote');
    expect(redactor.scrub('a s3cr3t/with"quote b')).toBe('a *** b');
    expect(redactor.scrub(`x=${encodeURIComponent('s3cr3t/with"quote')}`)).toBe('x=***');
    expect(redactor.scrub(JSON.stringify({ echoed: 's3cr3t/with"quote' }))).toBe('{"echoed":"***"}');
  });

  it('registers credential headers from -H and config headers, and the credential inside Authorization', () => {
    const redactor = new Redactor();
    redactor.addHeaders({ Authorization: 'Bearer hdr-abc123', 'X-Api-Key': 'key-xyz789', 'X-Team': 'payments' });
    expect(redactor.scrub('saw hdr-abc123 and key-xyz789 for payments')).toBe('saw *** and *** for payments');
  });

  it('shortens stream tokens learnt during the run wherever they appear, a path segment too', () => {
    const redactor = new Redactor();
    redactor.add(TOKEN, 'shorten');
    expect(redactor.scrub(`GET /api/generations/generate/g1/stream/${TOKEN}`)).toBe(`GET /api/generations/generate/g1/stream/${shortenToken(TOKEN)}`);
  });

  it('shortens credential-shaped parts it was never told about: relative and absolute URLs, JSON fields, Bearer values', () => {
    const redactor = new Redactor();
    expect(redactor.scrub(`streamUrl="/api/g/1/stream?token=${TOKEN}"`)).toBe(`streamUrl="/api/g/1/stream?token=${shortenToken(TOKEN)}"`);
    expect(redactor.scrub(`https://h/s?a=1&sse_token=${TOKEN}&b=2`)).toBe(`https://h/s?a=1&sse_token=${shortenToken(TOKEN)}&b=2`);
    expect(redactor.scrub(`<x url="/s?a=1&amp;access_token=${TOKEN}"/>`)).toBe(`<x url="/s?a=1&amp;access_token=${shortenToken(TOKEN)}"/>`);
    expect(redactor.scrub(`{"sse_token": "${TOKEN}"}`)).toBe(`{"sse_token": "${shortenToken(TOKEN)}"}`);
    expect(redactor.scrub('you sent Authorization: Bearer eyJhbGciOi.payload.sig')).toBe('you sent Authorization: Bearer ***');
    expect(redactStreamUrl(`/stream?token=${TOKEN}`)).toBe(`/stream?token=${shortenToken(TOKEN)}`);
  });

  it('leaves ordinary words alone, and a shortened token stays as it is', () => {
    const redactor = new Redactor();
    const text = 'the token endpoint answered 200; bearer token for the API; 7Lia…uVM';
    expect(redactor.scrub(text)).toBe(text);
    expect(shortenToken(shortenToken(TOKEN))).toBe(shortenToken(TOKEN));
  });
});

describe('terminalSafe (issue 11 §3)', () => {
  it('shows every control character as an escape and leaves the rest', () => {
    expect(terminalSafe('event: \x1b]0;PWNED\x07\x1b[2J héllo ✓\u202e')).toBe('event: \\x1b]0;PWNED\\x07\\x1b[2J héllo ✓\\u202e');
    expect(terminalSafe('a\r\nb\tc\x9b')).toBe('a\\x0d\\x0ab\\x09c\\x9b');
  });

  it('makes every string of a report safe, keys included, numbers untouched', () => {
    expect(terminalSafeDeep({ '\x1bk': ['\x07', 1, null], n: 2 })).toEqual({ '\\x1bk': ['\\x07', 1, null], n: 2 });
  });
});
