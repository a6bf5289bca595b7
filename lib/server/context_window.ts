/**
 * A request whose input cannot fit the upstream model's context window is answered at once,
 * with Anthropic's own overflow error, instead of being sent. Claude Code reads that error as
 * its cue to compact the conversation and retry; an upstream that would silently cut the prompt
 * short instead (Ollama trims to its num_ctx) never gets the chance to lose the beginning of it.
 */
import { ProxyError } from "../anthropic/errors.ts";
import type { ModelInfo } from "../upstreams/model_info.ts";

/**
 * Throws Anthropic's `prompt is too long: N tokens > M maximum` (400, invalid_request_error)
 * when the input estimate exceeds the model's known window. Wording as Anthropic's API words
 * it, which is what Claude Code matches on: https://docs.anthropic.com/en/api/errors
 */
export function checkContextWindow(inputTokensEstimate: number, info: ModelInfo): void {
  const window = info.contextWindow;
  if (window === undefined || inputTokensEstimate <= window) return;
  throw new ProxyError(
    400,
    "invalid_request_error",
    `prompt is too long: ${inputTokensEstimate} tokens > ${window} maximum`,
  );
}
