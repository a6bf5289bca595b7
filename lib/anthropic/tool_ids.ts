/**
 * Tool call ids between client and upstream.
 *
 * Gemini attaches a thought signature (`extra_content`) to tool calls and needs it back on
 * the next request (https://ai.google.dev/gemini-api/docs/thought-signatures). Claude Code
 * echoes tool_use ids verbatim, so the signature travels inside the id the client sees:
 * `<upstream id>__x<base64url JSON>`. No proxy state is needed for it.
 *
 * Mistral accepts only 9 alphanumeric characters (https://docs.mistral.ai/capabilities/function_calling/),
 * while Claude Code sends `toolu_…` ids back: those are rewritten by a hash, so the same id maps
 * the same way in every request of a conversation.
 */
import { hash53 } from "../common/hash.ts";
import { fromBase64Url, toBase64Url } from "../common/base64.ts";

const EXTRA_MARK = "__x";
const MISTRAL_ID = /^[A-Za-z0-9]{9}$/;

export function encodeClientToolId(upstreamId: string, extra: unknown): string {
  if (extra === undefined || extra === null) return upstreamId;
  return `${upstreamId}${EXTRA_MARK}${toBase64Url(JSON.stringify(extra))}`;
}

export function decodeClientToolId(clientId: string): { id: string; extra: unknown } {
  const at = clientId.lastIndexOf(EXTRA_MARK);
  if (at <= 0) return { id: clientId, extra: undefined };
  try {
    return {
      id: clientId.slice(0, at),
      extra: JSON.parse(fromBase64Url(clientId.slice(at + EXTRA_MARK.length))),
    };
  } catch {
    return { id: clientId, extra: undefined };
  }
}

export function makeToolIdMapper(short: boolean): (id: string) => string {
  if (!short) return (id) => id;
  return (id) =>
    MISTRAL_ID.test(id) ? id : hash53(id).replace(/[^A-Za-z0-9]/g, "").padStart(9, "0").slice(-9);
}
