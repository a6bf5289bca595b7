/**
 * The two ways converting a client's request for an OpenAI-style upstream can fail that are the
 * client's doing, not the upstream's: nesting too deep to convert, and nothing left to send.
 */
import { invalidRequest, type ProxyError } from "../../anthropic/errors.ts";
import { type JsonMemo, stringifyObject } from "../../common/json_text.ts";
import { SchemaTooDeepError } from "./json_schema.ts";

/** Runs a conversion and serializes its body; a stack overflow becomes the client's 400. */
export function convertAndSerialize<C extends { body: Record<string, unknown> }>(
  convert: () => C,
  memo: JsonMemo,
): { converted: C; body: string } {
  try {
    const converted = convert();
    return { converted, body: stringifyObject(converted.body, memo) };
  } catch (err) {
    if (err instanceof SchemaTooDeepError || err instanceof RangeError) {
      throw invalidRequest("request is nested too deeply (tool schemas or inputs)");
    }
    throw err;
  }
}

/**
 * Every block was empty or had no form upstream (file ids, server tool blocks): upstreams 400
 * on an empty conversation, and Anthropic refuses empty text blocks too.
 */
export function nothingToSend(dropped: readonly string[]): ProxyError {
  return invalidRequest(
    dropped.length > 0
      ? `nothing in messages can be sent to the upstream (left out: ${dropped.join(", ")})`
      : "messages have no content: text content blocks must be non-empty",
  );
}
