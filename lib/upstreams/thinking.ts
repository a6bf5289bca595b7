/**
 * What the client's thinking settings ask for, in the effort vocabulary OpenAI-style upstreams
 * share (low / medium / high): one reading for every upstream protocol.
 * Anthropic: https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
 *   and https://docs.anthropic.com/en/docs/build-with-claude/effort
 */
import type { MessagesRequest } from "../anthropic/schema.ts";

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
