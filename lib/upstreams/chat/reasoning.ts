/**
 * The client's thinking ask (../thinking.ts) → the reasoning control of a Chat Completions upstream.
 * OpenAI `reasoning_effort`: https://platform.openai.com/docs/api-reference/chat/create
 * OpenRouter `reasoning`: https://openrouter.ai/docs/use-cases/reasoning-tokens
 * DeepSeek `thinking` + `reasoning_effort`: https://api-docs.deepseek.com/guides/thinking_mode
 * Kimi / GLM `thinking: {type}`: https://platform.moonshot.ai/docs/guide/use-kimi-k2-thinking-model,
 *   https://docs.z.ai/guides/capabilities/thinking-mode
 * DashScope `enable_thinking` + `thinking_budget`: https://help.aliyun.com/en/model-studio/deep-thinking
 * Chat-template `enable_thinking` (vLLM, llama.cpp): https://qwen.readthedocs.io/en/latest/deployment/vllm.html
 * Chat-template `thinking` (DeepSeek-V3.1+, Granite): https://docs.vllm.ai/en/stable/features/reasoning_outputs.html
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
  request: { stream: boolean; model: string; forcedTool?: boolean } = { stream: true, model: "" },
): Partial<OpenAIRequest> {
  const { stream, model, forcedTool = false } = request;
  // gpt-4o and friends answer any reasoning field with a 400.
  if (!info.reasoning) return {};
  // DashScope's open Qwen3 models think by default and refuse a non-streamed call that thinks:
  // "parameter.enable_thinking must be set to false for non-streaming calls".
  if (profile.reasoning === "enable_thinking" && (!ask.on || !stream)) {
    return { enable_thinking: false };
  }
  if (!ask.on) {
    // DeepSeek's V4 models, kimi-k2.5 and GLM-4.7+ think unless told not to, and Qwen3 on vLLM or
    // llama.cpp by its chat template's default, so "disabled" must be said out loud there.
    // A forced tool call means no thinking too (Anthropic never allows the pair), and DeepSeek
    // refuses it while thinking: "Thinking mode does not support this tool_choice".
    const hosted = profile.reasoning === "deepseek" || profile.reasoning === "thinking_type";
    if (hosted && (ask.explicit || forcedTool)) return { thinking: { type: "disabled" } };
    if (profile.reasoning === "chat_template_kwargs" && ask.explicit) {
      return { chat_template_kwargs: templateThinking(false) };
    }
    return {};
  }
  switch (profile.reasoning) {
    case "reasoning_effort":
      return { reasoning_effort: effortFor(ask.effort, allowedEfforts(model, info, profile)) };
    case "thinking_type":
      return { thinking: { type: "enabled" } };
    case "enable_thinking":
      return ask.budget !== undefined
        ? {
          enable_thinking: true,
          thinking_budget: Math.max(1, Math.min(ask.budget, maxTokens - 1)),
        }
        : { enable_thinking: true };
    case "chat_template_kwargs":
      return { chat_template_kwargs: templateThinking(true) };
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

/**
 * The chat template's thinking switch, under both names in use: Qwen3 and GLM templates read
 * `enable_thinking`, DeepSeek-V3.1+ and Granite templates `thinking`; each ignores the other.
 */
function templateThinking(on: boolean): Record<string, boolean> {
  return { enable_thinking: on, thinking: on };
}

/** What the provider says of the model's efforts, else what the model table says. */
function allowedEfforts(
  model: string,
  info: ModelInfo,
  profile: Profile,
): readonly string[] | undefined {
  return profile.modelEfforts.find(([re]) => re.test(model))?.[1] ?? info.efforts;
}

/**
 * The effort to send: the asked one, or the nearest the model takes (grok-3-mini has only low
 * and high: https://docs.x.ai/docs/guides/reasoning). Rounded up, as thinking was asked for.
 */
function effortFor(effort: string, allowed: readonly string[] | undefined): string {
  if (!allowed || allowed.includes(effort)) return effort;
  const order = ["minimal", "low", "medium", "high"];
  const at = order.indexOf(effort);
  return allowed.find((e) => order.indexOf(e) >= at) ?? allowed[allowed.length - 1] ?? effort;
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
