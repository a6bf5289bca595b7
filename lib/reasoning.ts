/**
 * Anthropic thinking settings → the upstream's reasoning control.
 * Anthropic: https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
 * OpenAI `reasoning_effort`: https://platform.openai.com/docs/api-reference/chat/create
 * OpenRouter `reasoning`: https://openrouter.ai/docs/use-cases/reasoning-tokens
 */
import type { MessagesRequest } from "./anthropic_schema.ts";
import type { ModelInfo } from "./models.ts";
import type { OpenAIRequest } from "./openai_schema.ts";
import type { Profile } from "./providers.ts";

export type Effort = "low" | "medium" | "high";

/** Budget thresholds (tokens) between low/medium and medium/high effort. */
export type EffortThresholds = { lowMax: number; mediumMax: number };
export const DEFAULT_THRESHOLDS: EffortThresholds = { lowMax: 4_096, mediumMax: 16_384 };

/** Anthropic's effort names include `max` and `xhigh`, which OpenAI-style upstreams reject. */
export function clampEffort(effort: string | undefined): Effort | undefined {
  switch (effort?.toLowerCase()) {
    case undefined:
      return undefined;
    case "minimal":
    case "low":
      return "low";
    case "medium":
      return "medium";
    default:
      return "high";
  }
}

export function effortForBudget(budget: number, t: EffortThresholds): Effort {
  if (budget <= t.lowMax) return "low";
  if (budget <= t.mediumMax) return "medium";
  return "high";
}

/** What the client asked for, normalised: nothing, or an effort with an optional budget. */
export type ThinkingAsk = { effort: Effort; budget: number | undefined } | undefined;

export function thinkingAsk(req: MessagesRequest, t: EffortThresholds): ThinkingAsk {
  const thinking = req.thinking;
  // Claude Code sends `disabled` together with an effort for sub-agents: disabled wins.
  if (!thinking || thinking.type === "disabled") return undefined;
  if (thinking.type === "enabled" && thinking.budget_tokens !== undefined) {
    return {
      effort: clampEffort(req.output_config?.effort) ?? effortForBudget(thinking.budget_tokens, t),
      budget: thinking.budget_tokens,
    };
  }
  return { effort: clampEffort(req.output_config?.effort) ?? "medium", budget: undefined };
}

/** Request fields that carry the reasoning control, for models known to reason only. */
export function reasoningFields(
  ask: ThinkingAsk,
  info: ModelInfo,
  profile: Profile,
  maxTokens: number,
): Partial<OpenAIRequest> {
  // gpt-4o and friends answer any reasoning field with a 400.
  if (!ask || !info.reasoning) return {};
  switch (profile.reasoning) {
    case "reasoning_effort":
      return { reasoning_effort: ask.effort };
    case "openrouter":
      return ask.budget !== undefined
        ? { reasoning: { max_tokens: Math.max(1, Math.min(ask.budget, maxTokens - 1)) } }
        : { reasoning: { effort: ask.effort } };
    case "deepseek":
      return { thinking: { type: "enabled" }, reasoning_effort: ask.effort };
    case "none":
      return {};
  }
}
