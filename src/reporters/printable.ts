/**
 * Text someone else wrote (a client's path, a page's console line, a log line) made safe for a
 * terminal line: control characters (C0, DEL, C1) are shown as `\uXXXX` instead of obeyed.
 */
export function printable(text: string): string {
  return Array.from(text, (ch) => {
    const code = ch.charCodeAt(0);
    return code < 0x20 || (code >= 0x7f && code <= 0x9f) ? `\\u${code.toString(16).padStart(4, '0')}` : ch;
  }).join('');
}
