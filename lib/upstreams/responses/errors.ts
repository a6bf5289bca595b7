/**
 * A failed Responses API answer → the client's error. A stream fails with an `error` event
 * (`{type: "error", code, message, param}`) or ends with `response.failed`, whose `response.error`
 * holds `{code, message}` (https://platform.openai.com/docs/api-reference/responses-streaming);
 * both read like the error objects of Chat Completions, so they share its mapping (a context
 * overflow becomes `prompt is too long: N tokens > M maximum`).
 */
import { ProxyError } from "../../anthropic/errors.ts";
import { type ErrorContext, upstreamErrorInStream } from "../openai/errors.ts";

export type Failure = { code?: unknown; message?: unknown } | null | undefined;

export function failureError(failure: Failure, where: string, ctx: ErrorContext): ProxyError {
  const code = typeof failure?.code === "string" || typeof failure?.code === "number"
    ? String(failure.code)
    : undefined;
  const message = typeof failure?.message === "string" && failure.message
    ? failure.message
    : "the upstream reported a failure without a message";
  // `invalid_prompt` and friends: the request is at fault, and a retry cannot help.
  const type = code?.startsWith("invalid") ? "invalid_request_error" : code;
  return upstreamErrorInStream({ error: { code, message, type } }, "error", where, ctx) ??
    new ProxyError(529, "overloaded_error", `upstream error ${where}: ${message}`);
}
