/**
 * Chat Completions usage → Anthropic usage: `prompt_tokens` includes the cached tokens, which
 * are reported apart (see openai/usage.ts).
 */
import type { Usage } from "../../anthropic/schema.ts";
import { usageFromCounts } from "../openai/usage.ts";
import type { OpenAIUsage } from "./schema.ts";

export function mapUsage(
  usage: OpenAIUsage | null | undefined,
  fallbackInput: number,
  fallbackOutput: number,
): Usage {
  if (!usage) return { input_tokens: fallbackInput, output_tokens: fallbackOutput };
  return usageFromCounts(
    {
      input: usage.prompt_tokens,
      cached: usage.prompt_tokens_details?.cached_tokens ?? usage.prompt_cache_hit_tokens ?? 0,
      output: usage.completion_tokens,
    },
    fallbackInput,
    fallbackOutput,
  );
}
