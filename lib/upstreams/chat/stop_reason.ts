/**
 * OpenAI `finish_reason` → Anthropic `stop_reason`.
 * https://platform.openai.com/docs/api-reference/chat/object#chat/object-choices
 * https://docs.anthropic.com/en/api/handling-stop-reasons
 */
import type { StopReason } from "../../anthropic/schema.ts";
import { ProxyError } from "../../anthropic/errors.ts";

export function mapStopReason(
  finishReason: string | null | undefined,
  sawToolCalls: boolean,
  matchedStop: string | null,
): { stop_reason: StopReason; stop_sequence: string | null } {
  // Cut off by the token limit: the last tool call may be truncated (a Write with half its
  // content), so it must not be presented as complete. Anthropic says max_tokens here too.
  if (finishReason === "length") return { stop_reason: "max_tokens", stop_sequence: null };
  // Gemini and others say "stop" after tool calls; the client needs tool_use to run them.
  if (sawToolCalls) return { stop_reason: "tool_use", stop_sequence: null };
  if (matchedStop !== null) return { stop_reason: "stop_sequence", stop_sequence: matchedStop };
  switch (finishReason) {
    case "length":
      return { stop_reason: "max_tokens", stop_sequence: null };
    case "content_filter":
      return { stop_reason: "refusal", stop_sequence: null };
    // "tool_calls" with no tool_use block sent (every call was unusable and reported as text):
    // tool_use would promise the client calls it never received.
    case "tool_calls":
    case "function_call":
    default:
      return { stop_reason: "end_turn", stop_sequence: null };
  }
}

/**
 * OpenAI does not say which stop sequence matched; vLLM and some others put it in
 * `stop_reason` beside `finish_reason`.
 */
export function matchedStopSequence(
  choice: Record<string, unknown> | undefined,
  stopSequences: readonly string[] | undefined,
): string | null {
  const value = choice?.stop_reason;
  if (typeof value === "string" && stopSequences?.includes(value)) return value;
  return null;
}

/**
 * Finish reasons that mean the generation failed rather than ended: OpenRouter's `error`, and
 * DeepSeek's `insufficient_system_resource` (interrupted for lack of capacity,
 * https://api-docs.deepseek.com/api/create-chat-completion). The answer is cut short, so it
 * becomes an error a client retries, never an end_turn that passes for complete.
 */
export function failedFinish(finishReason: string | null | undefined): ProxyError | undefined {
  if (finishReason !== "error" && finishReason !== "insufficient_system_resource") return undefined;
  return new ProxyError(
    529,
    "overloaded_error",
    `upstream reported an error during the answer (finish_reason ${finishReason})`,
  );
}
