/**
 * web_fetch: one page, fetched safely. http(s) only; every host's addresses are resolved and
 * must all be public before a connection is made, redirects included (each hop re-checked);
 * the body is read up to a size limit within a time limit. Failures are the tool's documented
 * error codes. https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-fetch-tool
 */
import type { Fetch } from "../upstreams/transport.ts";
import { literalAddress } from "./address.ts";
import type { DomainFilter } from "./domains.ts";
import { htmlText, htmlTitle } from "./html_text.ts";
import type { FetchedPage, FetchErrorCode } from "./results.ts";
import { MAX_FETCH_URL_CHARS } from "./tools.ts";

/**
 * Decides which hosts may be fetched: the production guard resolves names through the runtime's
 * DNS and allows only public addresses (address.ts); tests inject one that lets them reach a
 * fake page on 127.0.0.1. There is no setting that opens private addresses.
 */
export type AddressGuard = {
  resolve(host: string): Promise<string[]>;
  allowed(ip: string): boolean;
};

export type FetchLimits = {
  timeoutMs: number;
  maxBytes: number;
  /** The text is cut to this many characters (max_content_tokens × 4). */
  maxChars: number | undefined;
};

export type FetchAnswer =
  | { ok: true; page: FetchedPage }
  | { ok: false; error: FetchErrorCode; detail: string };

const MAX_REDIRECTS = 5;

const TEXT_TYPES =
  /^(text\/[a-z0-9.+-]+|application\/(json|xml|xhtml\+xml|[a-z0-9.-]+\+(json|xml)))$/;

const fail = (error: FetchErrorCode, detail: string): FetchAnswer => ({ ok: false, error, detail });

async function hostAllowed(url: URL, guard: AddressGuard): Promise<true | FetchAnswer> {
  const literal = literalAddress(url.hostname);
  let addresses: string[];
  if (literal !== undefined) addresses = [literal];
  else {
    try {
      addresses = await guard.resolve(url.hostname);
    } catch (err) {
      return fail("url_not_accessible", `cannot resolve ${url.hostname}: ${String(err)}`);
    }
  }
  if (addresses.length === 0) return fail("url_not_accessible", `${url.hostname} has no address`);
  const refused = addresses.find((ip) => !guard.allowed(ip));
  if (refused !== undefined) {
    return fail("url_not_allowed", `${url.hostname} resolves to a non-public address`);
  }
  return true;
}

/**
 * Checks a URL before any connection: shape, scheme, length, that the model did not make it up,
 * domain lists, addresses.
 */
async function checkUrl(
  raw: string,
  domains: DomainFilter,
  guard: AddressGuard,
  known: ((url: string) => boolean) | undefined,
): Promise<URL | FetchAnswer> {
  if (raw.length > MAX_FETCH_URL_CHARS) return fail("url_too_long", "URL too long");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail("invalid_tool_input", "not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return fail("invalid_tool_input", `scheme ${url.protocol} is not http(s)`);
  }
  if (url.username !== "" || url.password !== "") {
    return fail("url_not_allowed", "URLs with credentials are not fetched");
  }
  if (known !== undefined && !known(url.href)) {
    return fail("url_not_allowed", "the URL appears nowhere in the conversation or in a result");
  }
  if (!domains(url.href)) return fail("url_not_allowed", "outside the tool's domain lists");
  const host = await hostAllowed(url, guard);
  return host === true ? url : host;
}

async function readLimited(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = maxBytes - size;
    if (value.byteLength >= room) {
      chunks.push(value.subarray(0, room));
      size += room;
      truncated = value.byteLength > room;
      if (!truncated) continue;
      await reader.cancel().catch(() => {});
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return { bytes, truncated };
}

export async function fetchPage(
  raw: string,
  opts: {
    fetch: Fetch;
    guard: AddressGuard;
    /** Whether the model may ask for this URL (see known_urls.ts); redirects need not be. */
    known: (url: string) => boolean;
    domains: DomainFilter;
    limits: FetchLimits;
    signal: AbortSignal;
  },
): Promise<FetchAnswer> {
  const deadline = AbortSignal.timeout(opts.limits.timeoutMs);
  const signal = AbortSignal.any([opts.signal, deadline]);
  let target = raw;
  try {
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      // The model chose the first URL; the sites it leads to choose the redirects.
      const known = hop === 0 ? opts.known : undefined;
      const checked = await checkUrl(target, opts.domains, opts.guard, known);
      if (!(checked instanceof URL)) return checked;
      const res = await opts.fetch(checked.href, {
        method: "GET",
        headers: {
          accept: "text/html, text/plain;q=0.9, application/json;q=0.8, */*;q=0.5",
          "user-agent": "claude-code-proxy web_fetch",
        },
        redirect: "manual",
        signal,
      });
      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel().catch(() => {});
        const location = res.headers.get("location");
        if (!location) return fail("url_not_accessible", `HTTP ${res.status} without a location`);
        target = new URL(location, checked).href;
        continue;
      }
      if (res.status < 200 || res.status >= 300) {
        await res.body?.cancel().catch(() => {});
        return fail("url_not_accessible", `HTTP ${res.status}`);
      }
      const contentType = res.headers.get("content-type");
      const declared = contentType?.split(";")[0]?.trim().toLowerCase() || undefined;
      if (declared !== undefined && !TEXT_TYPES.test(declared)) {
        await res.body?.cancel().catch(() => {});
        return fail("unsupported_content_type", declared);
      }
      const { bytes, truncated } = res.body
        ? await readLimited(res.body, opts.limits.maxBytes)
        : { bytes: new Uint8Array(), truncated: false };
      // Without a type, the bytes tell: binary is refused as a declared image would be.
      const mediaType = declared ?? sniffType(bytes);
      if (!TEXT_TYPES.test(mediaType)) return fail("unsupported_content_type", mediaType);
      const body = decodeText(bytes, contentType, mediaType);
      const html = mediaType === "text/html" || mediaType === "application/xhtml+xml";
      let text = html ? htmlText(body) : body;
      let cut = truncated;
      const maxChars = opts.limits.maxChars;
      if (maxChars !== undefined && text.length > maxChars) {
        text = text.slice(0, maxChars);
        cut = true;
      }
      return {
        ok: true,
        page: {
          url: checked.href,
          title: html ? htmlTitle(body) : null,
          mediaType: html ? "text/plain" : mediaType,
          text,
          truncated: cut,
        },
      };
    }
    return fail("url_not_accessible", `more than ${MAX_REDIRECTS} redirects`);
  } catch (err) {
    const why = deadline.aborted
      ? `no complete answer within ${opts.limits.timeoutMs / 1000}s`
      : err instanceof Error
      ? err.message
      : String(err);
    return fail("url_not_accessible", why);
  }
}

/** A body sent without a Content-Type: HTML, other text, or binary (a NUL in its first KiB). */
function sniffType(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 1024);
  if (head.includes(0)) return "application/octet-stream";
  const start = new TextDecoder("latin1").decode(head).trimStart().slice(0, 15).toLowerCase();
  return start.startsWith("<!doctype html") || start.startsWith("<html")
    ? "text/html"
    : "text/plain";
}

const CHARSET_PARAM = /charset\s*=\s*["']?([\w.:-]+)/i;
const META_CHARSET = /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i;

/**
 * The page's text in the charset it declares: a byte order mark, else Content-Type, else for HTML
 * a `<meta>` in its first KiB (https://html.spec.whatwg.org/#determining-the-character-encoding),
 * else UTF-8.
 * A label the runtime does not know decodes as UTF-8.
 */
function decodeText(bytes: Uint8Array, contentType: string | null, mediaType: string): string {
  // A byte order mark decides before any label; TextDecoder then drops it.
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
    ? "utf-8"
    : bytes[0] === 0xfe && bytes[1] === 0xff
    ? "utf-16be"
    : bytes[0] === 0xff && bytes[1] === 0xfe
    ? "utf-16le"
    : undefined;
  let label = bom ?? contentType?.match(CHARSET_PARAM)?.[1];
  if (label === undefined && mediaType === "text/html") {
    label = new TextDecoder("latin1").decode(bytes.subarray(0, 1024)).match(META_CHARSET)?.[1];
    // A page that reached here as bytes declaring UTF-16 is not UTF-16 (the HTML spec's rule).
    if (label !== undefined && /^utf-16/i.test(label)) label = "utf-8";
  }
  try {
    return new TextDecoder(label ?? "utf-8").decode(bytes);
  } catch {
    return new TextDecoder().decode(bytes);
  }
}
