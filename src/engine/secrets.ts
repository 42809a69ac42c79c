/** `7Lia…uVM`: enough to tell two tokens apart, too little to use one. */
export function shortenToken(token: string): string {
  return token.length <= 10 ? '…' : `${token.slice(0, 4)}…${token.slice(-3)}`;
}

/** A stream URL with its `token` query parameter shortened. */
export function redactStreamUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const token = parsed.searchParams.get('token');
    if (token) parsed.searchParams.set('token', shortenToken(token));
    return decodeURIComponent(parsed.href);
  } catch {
    return url;
  }
}

const knownSecrets = new Set<string>();

/** Remembers a secret (a bearer) so that the redacting writers scrub it wherever it turns up. */
export function registerSecret(secret: string | undefined): void {
  if (secret !== undefined && secret.length >= 4) knownSecrets.add(secret);
}

/** Replaces every registered secret in `text` with `***`. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const secret of knownSecrets) if (out.includes(secret)) out = out.split(secret).join('***');
  return out;
}

/**
 * Wraps an output stream so that no registered secret can leave through it, whatever path a
 * string took to get there: the last line of defence, not the first.
 */
export function redactingWriter<T extends NodeJS.WritableStream>(stream: T): T {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  (stream as { write: unknown }).write = (chunk: unknown, ...rest: unknown[]) =>
    write(typeof chunk === 'string' ? scrubSecrets(chunk) : Buffer.isBuffer(chunk) ? scrubSecrets(chunk.toString('utf8')) : chunk, ...rest);
  return stream;
}
