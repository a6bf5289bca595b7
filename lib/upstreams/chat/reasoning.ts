/**
 * Anthropic thinking settings → the upstream's reasoning control.
 * Anthropic: https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
 *   and https://docs.anthropic.com/en/docs/build-with-claude/effort
 * OpenAI `reasoning_effort`: https://platform.openai.com/docs/api-reference/chat/create
 * OpenRouter `reasoning`: https://openrouter.ai/docs/use-cases/reasoning-tokens
 * DeepSeek `thinking` + `reasoning_effort`: https://api-docs.deepseek.com/guides/thinking_mode
 */
import type { MessagesRequest } from "../../anthropic/schema.ts";
import type { ModelInfo } from "../model_info.ts";
import type { OpenAIRequest } from "./schema.ts";
import type { Profile } from "../openai/profiles.ts";

/** The efforts every OpenAI-style upstream accepts. */
export type Effort = "low" | "medium" | "high";

/** Budget thresholds (tokens): a budget up to `lowMax` is low effort, up to `mediumMax` medium. */
export type EffortThresholds = { lowMax: number; mediumMax: number };
export const DEFAULT_THRESHOLDS: EffortThresholds = { lowMax: 4_096, mediumMax: 16_384 };

/**
 * Anthropic's effort names include `xhigh` and `max`, which OpenAI-style upstreams answer with
 * a 400: they become `high`. Unknown names give undefined, so the budget decides instead.
 */
export function clampEffort(effort: string | undefined): Effort | undefined {
  switch (effort?.trim().toLowerCase()) {
    case "minimal":
    case "low":
      return "low";
    case "medium":
      return "medium";
    case "high":
    case "xhigh":
    case "max":
      return "high";
    default:
      return undefined;
  }
}

export function effortForBudget(budget: number, t: EffortThresholds): Effort {
  if (budget <= t.lowMax) return "low";
  if (budget <= t.mediumMax) return "medium";
  return "high";
}

/** What the client asked for, normalised. */
export type ThinkingAsk =
  /** No thinking: `explicit` when the client sent `{type: "disabled"}`, not just nothing. */
  | { on: false; explicit: boolean }
  /** Thinking on, with an effort, whether the client asked for the most (`max`), and a budget. */
  | { on: true; effort: Effort; max: boolean; budget: number | undefined };

// Anthropic's documented default effort: https://docs.anthropic.com/en/docs/build-with-claude/effort
const DEFAULT_EFFORT: Effort = "high";

export function thinkingAsk(
  req: Pick<MessagesRequest, "thinking" | "output_config">,
  t: EffortThresholds,
): ThinkingAsk {
  const thinking = req.thinking;
  if (!thinking) return { on: false, explicit: false };
  // Claude Code sends `disabled` together with an effort (sub-agents, title generation):
  // the pair contradicts itself, and disabled wins.
  if (thinking.type === "disabled") return { on: false, explicit: true };
  const requested = req.output_config?.effort?.trim().toLowerCase();
  const max = requested === "max";
  const effort = clampEffort(requested);
  if (thinking.type === "enabled" && thinking.budget_tokens !== undefined) {
    return {
      on: true,
      effort: effort ?? effortForBudget(thinking.budget_tokens, t),
      max,
      budget: thinking.budget_tokens,
    };
  }
  // `adaptive` (and `enabled` without a budget): the effort alone decides.
  return { on: true, effort: effort ?? DEFAULT_EFFORT, max, budget: undefined };
}

/** Request fields that carry the reasoning control; only models known to reason get any. */
export function reasoningFields(
  ask: ThinkingAsk,
  info: ModelInfo,
  profile: Profile,
  maxTokens: number,
): Partial<OpenAIRequest> {
  // gpt-4o and friends answer any reasoning field with a 400.
  if (!info.reasoning) return {};
  if (!ask.on) {
    // DeepSeek's V4 models think unless told not to, so "disabled" must be said out loud there.
    return profile.reasoning === "deepseek" && ask.explicit
      ? { thinking: { type: "disabled" } }
      : {};
  }
  switch (profile.reasoning) {
    case "reasoning_effort":
      return { reasoning_effort: ask.effort };
    case "openrouter":
      // One of the two, never both: OpenRouter rejects the pair.
      return ask.budget !== undefined
        ? { reasoning: { max_tokens: Math.max(1, Math.min(ask.budget, maxTokens - 1)) } }
        : { reasoning: { effort: ask.effort } };
    case "deepseek":
      // DeepSeek takes low/high/max (and maps medium to high), so `max` keeps its meaning there.
      return { thinking: { type: "enabled" }, reasoning_effort: ask.max ? "max" : ask.effort };
    case "none":
      return {};
  }
}

/** One piece of an answer's content: the model's reasoning, or text for the user. */
export type ContentPart = { kind: "thinking" | "text"; text: string };

/**
 * Magistral (Mistral's reasoning models) sends `content` as a list of chunks instead of a string:
 * `[{type: "thinking", thinking: [{type: "text", text}]}, {type: "text", text}]`, streamed and
 * not (https://docs.mistral.ai/capabilities/reasoning/). Splits such a list, in order.
 */
export function contentParts(content: readonly unknown[]): ContentPart[] {
  const out: ContentPart[] = [];
  const textOf = (v: unknown): string => {
    if (typeof v === "string") return v;
    if (Array.isArray(v)) return v.map(textOf).join("");
    if (v !== null && typeof v === "object" && typeof (v as { text?: unknown }).text === "string") {
      return (v as { text: string }).text;
    }
    return "";
  };
  for (const chunk of content) {
    if (typeof chunk === "string") {
      if (chunk) out.push({ kind: "text", text: chunk });
      continue;
    }
    if (chunk === null || typeof chunk !== "object") continue;
    const c = chunk as { type?: unknown; thinking?: unknown; text?: unknown };
    const kind = c.type === "thinking" ? "thinking" : "text";
    const text = kind === "thinking" ? textOf(c.thinking) : textOf(c.text);
    if (text) out.push({ kind, text });
  }
  return out;
}
