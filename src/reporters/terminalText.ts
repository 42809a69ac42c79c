/**
 * C0 and C1 controls, DEL, and the Unicode bidi overrides that reorder what a line shows: the
 * bytes with which a server's `event: \x1b]0;PWNED\x07\x1b[2J` retitles and clears a terminal.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is this pattern's whole job
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function visible(char: string): string {
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Text from the target made safe to print: every control character shown as an escape (`\x1b`), the rest untouched. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, visible);
}

/**
 * A report with every string in it made safe to print, for the human renderers (tables, pretty
 * lines). JSON renderers get the report as it is: JSON escapes controls itself and must stay exact.
 */
export function terminalSafeDeep<T>(value: T): T {
  if (typeof value === 'string') return terminalSafe(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => terminalSafeDeep(item)) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [terminalSafe(key), terminalSafeDeep(item)])) as T;
  }
  return value;
}
