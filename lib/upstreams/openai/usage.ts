/**
 * Pure: OpenAI-style token counts → Anthropic usage. OpenAI-style input counts include the
 * cached tokens; Anthropic's `input_tokens` does not, so cached ones are subtracted and reported
 * as `cache_read_input_tokens` (counting them twice makes Claude Code compact too early).
 */
import type { Usage } from "../../anthropic/schema.ts";

/** The counts an answer reported; a count left out falls back to the proxy's estimate. */
export function usageFromCounts(
  counts: { input: number | null | undefined; cached: number; output: number | null | undefined },
  fallbackInput: number,
  fallbackOutput: number,
): Usage {
  const input = counts.input ?? fallbackInput;
  const out: Usage = {
    input_tokens: Math.max(0, input - counts.cached),
    output_tokens: counts.output ?? fallbackOutput,
  };
  if (counts.cached > 0) out.cache_read_input_tokens = counts.cached;
  return out;
}

/** Rough output estimate for answers without usage: ~4 characters per token. */
export function estimateOutputTokens(chars: number): number {
  return Math.ceil(chars / 4);
}
