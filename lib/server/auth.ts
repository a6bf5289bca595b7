/** The client's key check: ANTHROPIC_API_KEY, sent as x-api-key or as a Bearer token. */
import { ProxyError } from "../anthropic/errors.ts";

/** The answer to a request without the proxy's key. */
export function unauthorized(): ProxyError {
  return new ProxyError(
    401,
    "authentication_error",
    // Worded so the secret redactor, which every error message passes, leaves it whole.
    "invalid or missing API key: send the proxy's ANTHROPIC_API_KEY as the x-api-key " +
      "header or as a Bearer token in the authorization header",
    { "x-should-retry": "false" },
  );
}

const encoder = new TextEncoder();

/** Constant-time comparison, so response timing does not reveal how much of a key matched. */
export function safeEqual(a: string, b: string | Uint8Array): boolean {
  const ea = encoder.encode(a);
  const eb = typeof b === "string" ? encoder.encode(b) : b;
  let diff = ea.length ^ eb.length;
  for (let i = 0; i < eb.length; i++) diff |= (ea[i % Math.max(1, ea.length)] ?? 0) ^ eb[i]!;
  return diff === 0 && ea.length === eb.length;
}

/**
 * Every key the client presented. The SDKs send both headers when both ANTHROPIC_API_KEY and
 * ANTHROPIC_AUTH_TOKEN are set (often a real Anthropic key next to the proxy's), so either
 * one carrying the proxy's key is enough.
 */
function clientKeys(req: Request): string[] {
  const keys: string[] = [];
  const key = req.headers.get("x-api-key")?.trim();
  if (key) keys.push(key);
  const m = req.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i);
  if (m) keys.push(m[1]!.trim());
  return keys;
}

/** A check of requests against the expected key; everything passes when there is none. */
export function keyCheck(expected: string | undefined): (req: Request) => boolean {
  if (!expected) return () => true;
  const bytes = encoder.encode(expected);
  // Both compared every time, so timing does not tell which header was right.
  return (req) => clientKeys(req).reduce((ok, key) => safeEqual(key, bytes) || ok, false);
}
