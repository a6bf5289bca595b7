/**
 * Leveled logger with redaction: the only module that writes to the console.
 * Every line passes through `redact`, so no key can reach a log whatever the caller passes.
 */

export type LogLevel = "debug" | "info" | "warning" | "error" | "critical";
export type LogFormat = "text" | "json";

const RANK: Record<LogLevel, number> = {
  debug: 10,
  info: 20,
  warning: 30,
  error: 40,
  critical: 50,
};

/** Accepts the Python proxy's names (DEBUG, INFO, WARNING, ERROR, CRITICAL) in any case. */
export function parseLogLevel(value: string): LogLevel | undefined {
  const v = value.trim().toLowerCase();
  if (v === "warn") return "warning";
  if (v === "fatal") return "critical";
  return v in RANK ? (v as LogLevel) : undefined;
}

export type Fields = Record<string, unknown>;

export type Logger = {
  enabled(level: LogLevel): boolean;
  log(level: LogLevel, msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
};

// Shapes of credentials that may appear in upstream bodies or URLs we did not configure.
const SECRET_PATTERNS: [RegExp, string][] = [
  [/\b(sk|rk|pk)-[A-Za-z0-9_-]{8,}/g, "$1-[REDACTED]"],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/gi, "$1 [REDACTED]"],
  // Only a value that looks like a key: 6 or more characters with a digit or a symbol, or 10
  // letters. Prose after a config path is no key (`providers.c.api_key: variable NOPE is not
  // set`), and redacting its first word would garble the one error that says what to fix.
  [
    /("?(?:x-api-key|api-key|authorization|api_key|apikey)"?\s*[:=]\s*"?)(?=[^"\s,}]*[^A-Za-z"\s,}]|[A-Za-z]{10})[^"\s,}]{6,}/gi,
    "$1[REDACTED]",
  ],
];

/**
 * Upstreams echo parts of a key too ("Incorrect API key provided: abc123…", a URL cut short):
 * any run of this many characters of a configured secret is redacted as well.
 */
const PARTIAL_MIN = 11;
/**
 * Probes at every PROBE-th offset of a secret: a shared run of PARTIAL_MIN characters always
 * contains one whole, so a line is searched for a handful of probes, not every substring.
 */
const PROBE = 6;

/** Where `text` shares runs of PARTIAL_MIN or more characters with `secret`: [start, end) pairs. */
function sharedRuns(text: string, secret: string): [number, number][] {
  const runs: [number, number][] = [];
  for (let offset = 0; offset + PROBE <= secret.length; offset += PROBE) {
    const probe = secret.slice(offset, offset + PROBE);
    for (let at = text.indexOf(probe); at >= 0; at = text.indexOf(probe, at + 1)) {
      let start = at;
      let from = offset;
      while (start > 0 && from > 0 && text[start - 1] === secret[from - 1]) {
        start--;
        from--;
      }
      let end = at + PROBE;
      let to = offset + PROBE;
      while (end < text.length && to < secret.length && text[end] === secret[to]) {
        end++;
        to++;
      }
      if (end - start >= PARTIAL_MIN) runs.push([start, end]);
    }
  }
  return runs;
}

/** `text` with the given [start, end) ranges (in any order, maybe overlapping) redacted. */
function redactRanges(text: string, ranges: [number, number][]): string {
  ranges.sort((a, b) => a[0] - b[0]);
  let out = "";
  let from = 0;
  for (const [start, end] of ranges) {
    if (end <= from) continue; // inside the range before
    if (start >= from) out += text.slice(from, start) + "[REDACTED]";
    from = end; // a range that overlaps the one before extends it
  }
  return out + text.slice(from);
}

/** `exactOnly` skips the shape patterns, for text we build ourselves (the banner). */
export function makeRedactor(
  secrets: readonly (string | undefined)[],
  opts: { exactOnly?: boolean } = {},
) {
  const exact = secrets.filter((s): s is string => typeof s === "string" && s.length >= 4);
  // A key in a URL's query string arrives percent-encoded when it holds `+`, `/` or `=`, and
  // one echoed inside JSON escaped when it holds `"` or `\`.
  for (const s of [...exact]) {
    for (const form of [encodeURIComponent(s), JSON.stringify(s).slice(1, -1)]) {
      if (form !== s && !exact.includes(form)) exact.push(form);
    }
  }
  const partial = exact.filter((s) => s.length > PARTIAL_MIN);
  return (text: string): string => {
    let out = text;
    for (const s of exact) if (out.includes(s)) out = out.replaceAll(s, "[REDACTED]");
    const ranges = partial.flatMap((s) => sharedRuns(out, s));
    if (ranges.length > 0) out = redactRanges(out, ranges);
    if (opts.exactOnly) return out;
    for (const [re, replacement] of SECRET_PATTERNS) out = out.replace(re, replacement);
    return out;
  };
}

export type Sink = (line: string, level: LogLevel) => void;

const LINE_BREAK = /[\r\n]/;

/** A server's log goes to stderr, whatever its level: stdout stays for what a command prints. */
const defaultSink: Sink = (line) => console.error(line);

/**
 * Each level to the console method of its severity: platforms that collect the console
 * (Cloudflare Workers' logs, `wrangler tail`) file a line by the method that wrote it, and would
 * take every request's info line for an error.
 */
export const consoleByLevel: Sink = (line, level) => {
  if (level === "error" || level === "critical") console.error(line);
  else if (level === "warning") console.warn(line);
  else if (level === "info") console.info(line);
  else console.debug(line);
};

/** A logger whose secrets can follow a configuration that is reloaded while it runs. */
export type RedactingLogger = Logger & {
  /**
   * The secrets of the configuration now in use, redacted from here on besides the ones given
   * at creation. Those it replaces stay redacted too, as requests in flight may still log them,
   * up to RETIRED_MAX of them, the oldest dropped first.
   */
  useSecrets(secrets: readonly (string | undefined)[]): void;
};

/** Retired secrets kept: many reloads' worth, few enough that each line stays cheap to scan. */
const RETIRED_MAX = 64;

export function createLogger(opts: {
  level: LogLevel;
  format: LogFormat;
  secrets: readonly (string | undefined)[];
  sink?: Sink;
}): RedactingLogger {
  const min = RANK[opts.level];
  let redact = makeRedactor(opts.secrets);
  let current: string[] = [];
  // Insertion order is age: re-retiring a secret makes it the newest.
  const retired = new Set<string>();
  const useSecrets = (secrets: readonly (string | undefined)[]) => {
    const next = secrets.filter((s): s is string => s !== undefined);
    for (const s of current) {
      retired.delete(s);
      if (!next.includes(s)) retired.add(s);
    }
    for (const s of next) retired.delete(s);
    for (const s of retired) {
      if (retired.size <= RETIRED_MAX) break;
      retired.delete(s);
    }
    current = next;
    redact = makeRedactor([...opts.secrets, ...current, ...retired]);
  };
  const sink = opts.sink ?? defaultSink;
  const enabled = (level: LogLevel) => RANK[level] >= min;
  const log = (level: LogLevel, msg: string, fields?: Fields) => {
    if (!enabled(level)) return;
    const time = new Date().toISOString();
    let line: string;
    if (opts.format === "json") {
      line = JSON.stringify({ time, level, msg, ...fields });
    } else {
      // Fields a caller does not know (undefined) are left out, as JSON.stringify does; a
      // string with a line break is quoted, so that one entry stays one line.
      const extra = fields
        ? Object.entries(fields)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) =>
            `${k}=${typeof v === "string" && !LINE_BREAK.test(v) ? v : JSON.stringify(v)}`
          )
          .join(" ")
        : "";
      line = `${time} ${level.toUpperCase().padEnd(7)} ${msg}${extra ? " " + extra : ""}`;
    }
    sink(redact(line), level);
  };
  return {
    enabled,
    log,
    useSecrets,
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warning", m, f),
    error: (m, f) => log("error", m, f),
  };
}

/** A logger that drops everything, for pure code paths and tests that do not care. */
export const silentLogger: Logger = createLogger({
  level: "critical",
  format: "text",
  secrets: [],
  sink: () => {},
});
