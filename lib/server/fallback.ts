/**
 * Which failures of one chain entry move a request on to the next entry, and what they do to
 * the provider's health. Only failures before anything was sent to the client reach here.
 */
import type { ProxyError } from "../anthropic/errors.ts";
import type { FallbackCause } from "../routing/file_schema.ts";
import { SHUTTING_DOWN } from "../upstreams/transport.ts";

/**
 * The fallback cause of a failed attempt, or undefined for a failure the next entry cannot fix
 * (a bad request stays a bad request). `answered`: the upstream's headers arrived.
 */
export function fallbackCause(err: ProxyError, answered: boolean): FallbackCause | undefined {
  // The proxy is stopping: no entry can answer in time, and none is at fault.
  if (err === SHUTTING_DOWN) return undefined;
  if (err.type === "timeout_error") return "timeout";
  if (!answered) return err.status >= 500 ? "connect" : undefined;
  if (err.status === 429) return "429";
  if (err.status >= 500) return "5xx";
  // Both protocols word a context overflow the way Claude Code recognizes (and compacts on).
  if (err.status === 400 && /prompt is too long/i.test(err.message)) return "overflow";
  return undefined;
}

/** Failures that say the provider is unwell (the circuit breaker counts them). */
export function countsAgainstProvider(cause: FallbackCause | undefined): boolean {
  return cause === "connect" || cause === "timeout" || cause === "5xx";
}

/** How long a key rests after this error, or undefined when the key is not at fault. */
export function keyRestMs(
  err: ProxyError,
  cooldownMs: number,
  now: number = Date.now(),
): number | undefined {
  if (err.status === 429) {
    const header = err.headers["retry-after"]?.trim() ?? "";
    // Seconds (0: at once), or an HTTP date (RFC 9110 §10.2.3); anything else rests the key
    // cooldown_s, a date already past too (a clock behind the upstream's says nothing sure).
    const seconds = Number(header);
    if (header !== "" && Number.isFinite(seconds)) {
      return seconds >= 0 ? seconds * 1000 : cooldownMs;
    }
    const at = Date.parse(header);
    return Number.isFinite(at) && at > now ? at - now : cooldownMs;
  }
  if (err.status === 401 || err.status === 403) return cooldownMs;
  return undefined;
}
