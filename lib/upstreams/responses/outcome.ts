/**
 * How a Responses API answer ended → Anthropic's stop reason, and its usage → Anthropic usage.
 * https://platform.openai.com/docs/api-reference/responses/object (status, incomplete_details,
 * usage); https://docs.anthropic.com/en/api/handling-stop-reasons
 */
import type { StopReason, Usage } from "../../anthropic/schema.ts";
import { usageFromCounts } from "../openai/usage.ts";
import type { ResponsesUsage } from "./schema.ts";

export type Ending = {
  /** `completed` or `incomplete` (failed answers are errors, never a stop reason). */
  status: "completed" | "incomplete";
  /** `incomplete_details.reason`: `max_output_tokens` or `content_filter`. */
  incompleteReason: string | undefined;
  sawToolCalls: boolean;
  sawRefusal: boolean;
};

export function mapStopReason(end: Ending): StopReason {
  if (end.status === "incomplete") {
    // Cut off: the last tool call may be truncated, so it is never presented as complete.
    return end.incompleteReason === "content_filter" ? "refusal" : "max_tokens";
  }
  if (end.sawToolCalls) return "tool_use";
  if (end.sawRefusal) return "refusal";
  return "end_turn";
}

/**
 * `input_tokens` includes the cached ones, which are reported apart (see openai/usage.ts).
 * `output_tokens` includes reasoning, as Anthropic's includes thinking.
 */
export function mapUsage(
  usage: ResponsesUsage | null | undefined,
  fallbackInput: number,
  fallbackOutput: number,
): Usage {
  if (!usage) return { input_tokens: fallbackInput, output_tokens: fallbackOutput };
  return usageFromCounts(
    {
      input: usage.input_tokens,
      cached: usage.input_tokens_details?.cached_tokens ?? 0,
      output: usage.output_tokens,
    },
    fallbackInput,
    fallbackOutput,
  );
}
