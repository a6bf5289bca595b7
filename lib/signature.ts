/**
 * Thinking-block signatures carry what OpenRouter needs back on the next turn: its
 * `reasoning_details` (https://openrouter.ai/docs/use-cases/reasoning-tokens#preserving-reasoning-blocks).
 * Claude Code echoes thinking blocks with their signature unchanged, so the signature is where
 * the proxy keeps per-turn data without keeping any state itself.
 */
import { fromBase64Url, toBase64Url } from "./base64.ts";

const PREFIX = "ccp1.";

export type SignaturePayload = { reasoning_details?: unknown[] };

export function encodeSignature(payload: SignaturePayload): string {
  return PREFIX + toBase64Url(JSON.stringify(payload));
}

/** Anything that is not ours (a real Anthropic signature, garbage) decodes to an empty payload. */
export function decodeSignature(signature: string | undefined): SignaturePayload {
  if (!signature?.startsWith(PREFIX)) return {};
  try {
    const value: unknown = JSON.parse(fromBase64Url(signature.slice(PREFIX.length)));
    if (value === null || typeof value !== "object" || Array.isArray(value)) return {};
    const details = (value as { reasoning_details?: unknown }).reasoning_details;
    return Array.isArray(details) ? { reasoning_details: details } : {};
  } catch {
    return {};
  }
}

type Detail = Record<string, unknown>;

const isTextDetail = (d: unknown): d is Detail =>
  d !== null && typeof d === "object" && !Array.isArray(d) &&
  (d as Detail).type === "reasoning.text";

/**
 * Adds streamed `reasoning_details` to those collected so far. A stream sends one
 * `reasoning.text` piece per chunk; consecutive pieces become one detail (text joined, the
 * signature and format kept from whichever piece had them), as OpenRouter's own SDK does, so
 * what goes back is what a non-streamed answer would have held. Other types are kept as sent.
 */
export function mergeReasoningDetails(collected: unknown[], incoming: readonly unknown[]): void {
  for (const detail of incoming) {
    const last = collected[collected.length - 1];
    if (isTextDetail(detail) && isTextDetail(last) && last.index === detail.index) {
      const text = `${typeof last.text === "string" ? last.text : ""}${
        typeof detail.text === "string" ? detail.text : ""
      }`;
      collected[collected.length - 1] = {
        ...last,
        text,
        signature: last.signature ?? detail.signature ?? null,
        format: last.format ?? detail.format,
      };
    } else {
      collected.push(isTextDetail(detail) ? { ...detail } : detail);
    }
  }
}
