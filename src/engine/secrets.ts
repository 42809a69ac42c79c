/** `7Lia…uVM`: enough to tell two tokens apart, too little to use one. */
export function shortenToken(token: string): string {
  if (token.includes('…') || token === '***') return token;
  return token.length <= 10 ? '…' : `${token.slice(0, 4)}…${token.slice(-3)}`;
}

/**
 * Query parameters and JSON fields that carry a credential, whoever named them: the contract's
 * `token`, the `sse_token` some backends put in their `stream_url`, and the usual OAuth and
 * signed-URL names.
 */
const CREDENTIAL_NAMES = 'token|sse_token|access_token|id_token|refresh_token|auth|jwt|api_key|apikey|key|signature|sig|session|password|secret';
const CREDENTIAL_PARAM = new RegExp(`([?&;](?:${CREDENTIAL_NAMES})=)([^&#\\s"'<>\\\\]+)`, 'gi');
const CREDENTIAL_FIELD = new RegExp(`("(?:${CREDENTIAL_NAMES}|authorization)"\\s*:\\s*")((?:[^"\\\\]|\\\\.)+)(")`, 'gi');
/** An `Authorization` value or a curl line echoed back: the scheme stays, the credential goes. */
const BEARER = /\b(Bearer|Basic)(\s+)([A-Za-z0-9._~+/=-]{4,})/g;

/** Header names whose values are credentials: registered as secrets wherever they came from. */
const CREDENTIAL_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key)$|token|secret|key|auth|session|password/i;

/** Whether a request header carries a credential: redacted in output, and never sent to another origin. */
export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_HEADER.test(name);
}

/** A secret as it may turn up in output: as is, URL-encoded, or escaped inside a JSON string. */
function spellingsOf(secret: string): string[] {
  return [...new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)])];
}

/**
 * Text with credential-shaped parts shortened: token query parameters (relative or absolute
 * URLs alike), credential JSON fields, `Bearer …` values. Needs no knowledge of the run.
 */
export function redactCredentialShapes(text: string): string {
  return text
    .replace(CREDENTIAL_PARAM, (_match, name: string, value: string) => `${name}${shortenToken(value)}`)
    .replace(CREDENTIAL_FIELD, (_match, open: string, value: string, close: string) => `${open}${shortenToken(value)}${close}`)
    .replace(BEARER, (_match, scheme: string, space: string) => `${scheme}${space}***`);
}

/** A stream URL for display: its token parameters shortened. */
export function redactStreamUrl(url: string): string {
  return redactCredentialShapes(url);
}

/** Where secrets learnt during a run (a stream token, wherever a server put it) are handed to the output layer. */
export interface SecretSink {
  add(secret: string | undefined, how?: 'hide' | 'shorten'): void;
}

/**
 * The one redaction layer: every writer (stdout, stderr, report files, load parts) passes its
 * text through `scrub`. It knows the run's secrets (bearers from any source, header credentials,
 * stream tokens as they are issued) and also shortens anything credential-shaped, so a token it
 * was never told about still does not leave in a URL or a JSON body.
 */
export class Redactor implements SecretSink {
  /** Spelling of a secret -> what replaces it; longest first, so a secret inside another goes with it. */
  private readonly replacements = new Map<string, string>();
  private ordered: [string, string][] = [];

  /** A bearer is hidden (`***`); a stream token is shortened, so two can be told apart. */
  add(secret: string | undefined, how: 'hide' | 'shorten' = 'hide'): void {
    if (secret === undefined || secret.length < 4 || this.replacements.has(secret)) return;
    const replacement = how === 'hide' ? '***' : shortenToken(secret);
    for (const spelling of spellingsOf(secret)) this.replacements.set(spelling, replacement);
    this.ordered = [...this.replacements].sort(([a], [b]) => b.length - a.length);
  }

  /** Every credential among request headers: `Authorization: Bearer x` registers the value and `x`. */
  addHeaders(headers: Readonly<Record<string, string>>): void {
    for (const [name, value] of Object.entries(headers)) {
      if (!isCredentialHeader(name)) continue;
      this.add(value);
      const credential = /^\S+\s+(\S+)$/.exec(value.trim())?.[1];
      this.add(credential);
    }
  }

  scrub(text: string): string {
    let out = text;
    for (const [secret, replacement] of this.ordered) if (out.includes(secret)) out = out.split(secret).join(replacement);
    return redactCredentialShapes(out);
  }
}

/**
 * Wraps an output stream so that nothing it writes skips the redactor: the last line of defence,
 * whatever path a string took to get there.
 */
export function redactingWriter<T extends NodeJS.WritableStream>(stream: T, redactor: Redactor): T {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  (stream as { write: unknown }).write = (chunk: unknown, ...rest: unknown[]) =>
    write(typeof chunk === 'string' ? redactor.scrub(chunk) : Buffer.isBuffer(chunk) ? redactor.scrub(chunk.toString('utf8')) : chunk, ...rest);
  return stream;
}
