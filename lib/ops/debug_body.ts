/**
 * Upstream bodies for the debug log. A Claude Code request is ~100 KB, most of it one system
 * prompt and the tool descriptions, and the messages come last: cutting the text at a fixed
 * length would hide exactly what one debugs. So the whole JSON structure is shown, with each
 * long string shortened to its head and tail. Used only when the debug level is on.
 */

const STRING_HEAD = 600;
const STRING_TAIL = 200;
/** Text that is not JSON (or a stream) is shown up to this many characters, head and tail. */
export const TEXT_HEAD = 16_000;
const TEXT_TAIL = 4_000;

function shorten(text: string, head: number, tail: number): string {
  // Shortening must save something worth the marker.
  if (text.length <= head + tail + 64) return text;
  return `${text.slice(0, head)}…[${text.length - head - tail} chars left out]…${
    text.slice(-tail)
  }`;
}

/**
 * A JSON body with every long string shortened; any other text shortened as a whole. Secrets
 * are taken out first (`redact`), so that shortening cannot leave a part of a key behind that
 * the logger's redaction would no longer recognise.
 */
export function debugBody(text: string, redact: (text: string) => string): string {
  const clean = redact(text);
  try {
    return JSON.stringify(
      JSON.parse(clean),
      (_key, v: unknown) => (typeof v === "string" ? shorten(v, STRING_HEAD, STRING_TAIL) : v),
    );
  } catch {
    // Not JSON, or nested too deeply for a replacer's stack (a 10,000-deep tool schema).
    return shorten(clean, TEXT_HEAD, TEXT_TAIL);
  }
}
