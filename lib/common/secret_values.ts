/**
 * Secrets that are not keys by name: credentials inside a URL and the values of headers whose
 * names say they carry one. The redactors take them out of logs, errors, records and the
 * dashboard like the keys themselves.
 */

/** Header names whose values are credentials, whatever they hold. */
export const SECRET_HEADER =
  /authorization|api-key|apikey|token|secret|cookie|password|credential/i;

/** Query parameter names whose values are credentials (`?key=`, `&sig=` …). */
const SECRET_PARAM = /key|token|secret|sig|pass/i;

/**
 * A URL for display: a password in it (`https://user:pass@gateway/v1`) and key-like query
 * parameters are masked. Anything else is shown exactly as configured.
 */
export function displayUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  let masked = false;
  if (parsed.password) {
    parsed.password = "****";
    masked = true;
  }
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) {
      parsed.searchParams.set(name, "****");
      masked = true;
    }
  }
  return masked ? parsed.toString() : url;
}

/**
 * Values shorter than this are not taken as secrets: a header value such as `true` would
 * otherwise be cut out of every log line that says `stream=true`.
 */
const MIN_SECRET = 8;

/**
 * The user, password and credential-like query values in `url` (none if it does not parse),
 * as written and decoded.
 */
export function urlSecrets(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const out: string[] = [];
  // Both halves: `https://KEY@host` carries a token as the user name.
  for (const part of [parsed.username, parsed.password]) {
    if (part.length >= MIN_SECRET) out.push(part, safeDecode(part));
  }
  for (const [name, value] of parsed.searchParams) {
    if (value.length >= MIN_SECRET && SECRET_PARAM.test(name)) {
      out.push(value, encodeURIComponent(value));
    }
  }
  return out;
}

/** The values of the headers in `headers` whose names mark them as credentials. */
export function headerSecrets(headers: Readonly<Record<string, string>>): string[] {
  return Object.entries(headers).flatMap(([name, value]) =>
    SECRET_HEADER.test(name) && value.length >= MIN_SECRET ? [value] : []
  );
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
