/**
 * `.env` text → variables, with the rules of Node's `util.parseEnv` (which Deno and Bun also
 * ship, but importing node:util costs Bun ~5 MB of resident memory for one small function):
 * `KEY=value` lines, an optional `export ` prefix, `#` comments, values in single, double or
 * back quotes (double quotes turn `\n` into a newline; quoted values may span lines), and
 * unquoted values trimmed and cut at ` #`. tests/dotenv.test.ts compares it with parseEnv.
 */

const LINE =
  /^\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?$/gm;

export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const source = text.replace(/\r\n?/g, "\n");
  for (const match of source.matchAll(LINE)) {
    const key = match[1]!;
    let value = (match[2] ?? "").trim();
    const quote = value[0];
    if (
      (quote === "'" || quote === '"' || quote === "`") && value.endsWith(quote) &&
      value.length >= 2
    ) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\n/g, "\n").replace(/\\r/g, "\r");
    }
    out[key] = value;
  }
  return out;
}
