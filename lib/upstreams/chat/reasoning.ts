/**
 * The client's thinking ask (../thinking.ts) → the reasoning control of a Chat Completions upstream.
 * OpenAI `reasoning_effort`: https://platform.openai.com/docs/api-reference/chat/create
 * OpenRouter `reasoning`: https://openrouter.ai/docs/use-cases/reasoning-tokens
 * DeepSeek `thinking` + `reasoning_effort`: https://api-docs.deepseek.com/guides/thinking_mode
 */
import type { ModelInfo } from "../model_info.ts";
import type { ThinkingAsk } from "../thinking.ts";
import type { OpenAIRequest } from "./schema.ts";
import type { Profile } from "../openai/profiles.ts";

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
