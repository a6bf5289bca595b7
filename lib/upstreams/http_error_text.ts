/**
 * Pure: what every protocol says of an upstream HTTP error whose body it cannot read as its own
 * error format, and of an answer that was no error at all (a redirect).
 */
import { ProxyError } from "../anthropic/errors.ts";

/** The body as one short line of text: an HTML error page loses its tags. */
function bodySnippet(body: string): string {
  const text = body.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** The message for an error body without a message of its own. */
export function statusMessage(status: number, body: string): string {
  const snippet = bodySnippet(body);
  return snippet
    ? `upstream returned HTTP ${status}: ${snippet}`
    : `upstream returned HTTP ${status}`;
}

/**
 * A redirect (or another status below 400) means the configured address is not the API's;
 * nothing the client sent is wrong. Redirects are not followed (transport.ts), so `setting`
 * names where the address comes from.
 */
export function notAnApiError(status: number, headers: Headers, setting: string): ProxyError {
  const location = headers.get("location");
  return new ProxyError(
    502,
    "api_error",
    `upstream answered HTTP ${status}${
      location ? ` (redirect to ${location})` : ""
    }: check ${setting}`,
  );
}
