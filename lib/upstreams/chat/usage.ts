/**
 * OpenAI usage → Anthropic usage. OpenAI's `prompt_tokens` includes cached tokens; Anthropic's
 * `input_tokens` does not, so cached ones are subtracted and reported as
 * `cache_read_input_tokens` (counting them twice makes Claude Code compact too early).
 */
import type { Usage } from "../../anthropic/schema.ts";
import type { OpenAIUsage } from "./schema.ts";

export function mapUsage(
  usage: OpenAIUsage | null | undefined,
  fallbackInput: number,
  fallbackOutput: number,
): Usage {
  if (!usage) return { input_tokens: fallbackInput, output_tokens: fallbackOutput };
  const prompt = usage.prompt_tokens ?? fallbackInput;
  const cached = usage.prompt_tokens_details?.cached_tokens ?? usage.prompt_cache_hit_tokens ?? 0;
  const out: Usage = {
    input_tokens: Math.max(0, prompt - cached),
    output_tokens: usage.completion_tokens ?? fallbackOutput,
  };
  if (cached > 0) out.cache_read_input_tokens = cached;
  return out;
}

/** Rough output estimate for upstreams that send no usage: ~4 characters per token. */
export function estimateOutputTokens(chars: number): number {
  return Math.ceil(chars / 4);
}
