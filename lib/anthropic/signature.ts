/**
 * Thinking-block signatures carry what OpenRouter needs back on the next turn: its
 * `reasoning_details` (https://openrouter.ai/docs/use-cases/reasoning-tokens#preserving-reasoning-blocks).
 * Claude Code echoes thinking blocks with their signature unchanged, so the signature is where
 * the proxy keeps per-turn data without keeping any state itself.
 */
import { fromBase64Url, toBase64Url } from "../common/base64.ts";

const PREFIX = "ccp1.";

export type SignaturePayload = {
  reasoning_details?: unknown[];
  /**
   * An OpenAI Responses API reasoning item's encrypted content, and a tag of the upstream that
   * made it: only that upstream can read it (https://platform.openai.com/docs/guides/reasoning).
   */
  encrypted_reasoning?: { content: string; upstream: string };
};

export function encodeSignature(payload: SignaturePayload): string {
  return PREFIX + toBase64Url(JSON.stringify(payload));
}

/** Anything that is not ours (a real Anthropic signature, garbage) decodes to an empty payload. */
export function decodeSignature(signature: string | undefined): SignaturePayload {
  if (!signature?.startsWith(PREFIX)) return {};
  try {
    const value: unknown = JSON.parse(fromBase64Url(signature.slice(PREFIX.length)));
    if (value === null || typeof value !== "object" || Array.isArray(value)) return {};
    const payload: SignaturePayload = {};
    const details = (value as { reasoning_details?: unknown }).reasoning_details;
    if (Array.isArray(details)) payload.reasoning_details = details;
    const encrypted = (value as { encrypted_reasoning?: unknown }).encrypted_reasoning;
    if (encrypted !== null && typeof encrypted === "object") {
      const { content, upstream } = encrypted as { content?: unknown; upstream?: unknown };
      if (typeof content === "string" && typeof upstream === "string") {
        payload.encrypted_reasoning = { content, upstream };
      }
    }
    return payload;
  } catch {
    return {};
  }
}

type Detail = Record<string, unknown>;

/** The detail types a stream sends piece by piece, and the field their pieces add to. */
const PIECE_FIELD: Readonly<Record<string, string>> = {
  "reasoning.text": "text",
  // OpenAI models behind OpenRouter stream their reasoning summary a few words per chunk.
  "reasoning.summary": "summary",
};

const pieceField = (d: unknown): string | undefined =>
  d !== null && typeof d === "object" && !Array.isArray(d)
    ? PIECE_FIELD[String((d as Detail).type)]
    : undefined;

/**
 * Adds streamed `reasoning_details` to those collected so far. A stream sends a
 * `reasoning.text` or `reasoning.summary` piece per chunk; consecutive pieces of the same type and
 * index become one detail (text joined, the signature, id and format kept from whichever piece
 * had them), as OpenRouter's own SDK does, so what goes back is what a non-streamed answer would
 * have held: OpenRouter wants the sequence back unmodified
 * (https://openrouter.ai/docs/use-cases/reasoning-tokens#preserving-reasoning-blocks). Other
 * types are kept as sent.
 */
export function mergeReasoningDetails(collected: unknown[], incoming: readonly unknown[]): void {
  for (const detail of incoming) {
    const field = pieceField(detail);
    const last = collected[collected.length - 1];
    if (field === undefined) {
      collected.push(detail);
      continue;
    }
    const d = detail as Detail;
    const l = last as Detail | undefined;
    if (l === undefined || l.type !== d.type || l.index !== d.index) {
      collected.push({ ...d });
      continue;
    }
    const joined = `${typeof l[field] === "string" ? l[field] : ""}${
      typeof d[field] === "string" ? d[field] : ""
    }`;
    const merged: Detail = { ...l, [field]: joined };
    if (d.type === "reasoning.text") merged.signature = l.signature ?? d.signature ?? null;
    if (l.format === undefined && d.format !== undefined) merged.format = d.format;
    if (l.id == null && d.id != null) merged.id = d.id;
    collected[collected.length - 1] = merged;
  }
}
