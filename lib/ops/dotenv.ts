/**
 * `.env` text → variables, with the rules of Node's `util.parseEnv` (which Deno and Bun also
 * ship, but importing node:util costs Bun ~5 MB of resident memory for one small function):
 * `KEY=value` lines, an optional `export ` prefix, `#` comments, values in single, double or
 * back quotes (double quotes turn `\n` into a newline; quoted values may span lines), and
 * unquoted values trimmed and cut at ` #`. tests/dotenv.test.ts compares it with parseEnv.
 */

const LINE =
  /^\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?$/gm;

/**
 * The numbers (1-based) of the lines no variable was read from that are not blank or comments:
 * `PORT 8083` without its `=` is otherwise dropped without a word.
 */
export function ignoredDotenvLines(text: string): number[] {
  const source = text.replace(/\r\n?/g, "\n");
  const read = new Uint8Array(source.length);
  for (const match of source.matchAll(LINE)) {
    read.fill(1, match.index, match.index + match[0].length);
  }
  const out: number[] = [];
  let start = 0;
  source.split("\n").forEach((line, i) => {
    const body = line.trim();
    if (body !== "" && !body.startsWith("#") && read[start + line.indexOf(body[0]!)] !== 1) {
      out.push(i + 1);
    }
    start += line.length + 1;
  });
  return out;
}

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
