/**
 * What we know of each upstream model (output limit, context window, whether it reasons),
 * decided by name and overridable per provider.
 */

export type ModelInfo = {
  /** Largest `max_tokens` the model accepts; undefined when we do not know it. */
  maxOutput: number | undefined;
  contextWindow: number | undefined;
  /** Accepts a reasoning control (reasoning_effort and friends). */
  reasoning: boolean;
  /** OpenAI o-series / gpt-5: `max_completion_tokens`, no `stop`, default sampling only. */
  openaiReasoning: boolean;
  /** gpt-5.1 and later take sampling parameters again when reasoning_effort is "none". */
  acceptsEffortNone: boolean;
  /**
   * Accepts `parallel_tool_calls`. o1, o3 and o4-mini answer it, even `false`, with a 400
   * "Unsupported parameter: 'parallel_tool_calls' is not supported with this model."
   */
  parallelToolCalls: boolean;
  /** The reasoning efforts the model takes, when it takes only some (in rising order). */
  efforts?: readonly string[] | undefined;
};

type Row = [RegExp, Partial<ModelInfo>];

/** Limits the operator sets per model (MODEL_LIMITS), keyed by lower-case model name. */
export type ModelLimits = Readonly<
  Record<string, Readonly<{ context?: number | undefined; output?: number | undefined }>>
>;

// Sources: each provider's model pages (OpenAI, Anthropic, DeepSeek, Google, Mistral, xAI), as of
// 2026. First match wins, so specific names come before their families.
const TABLE: Row[] = [
  // OpenAI. https://platform.openai.com/docs/models
  [/^gpt-5(\.\d+)?-chat/, { maxOutput: 16_384, contextWindow: 128_000 }],
  [/^gpt-5\.[1-9]/, {
    maxOutput: 128_000,
    contextWindow: 400_000,
    reasoning: true,
    openaiReasoning: true,
    acceptsEffortNone: true,
  }],
  [/^gpt-5/, {
    maxOutput: 128_000,
    contextWindow: 400_000,
    reasoning: true,
    openaiReasoning: true,
  }],
  // o1-mini and o1-preview predate reasoning_effort and answer it with a 400.
  [/^o1-(mini|preview)/, {
    maxOutput: 65_536,
    contextWindow: 128_000,
    openaiReasoning: true,
    parallelToolCalls: false,
  }],
  [/^o\d/, {
    maxOutput: 100_000,
    contextWindow: 200_000,
    reasoning: true,
    openaiReasoning: true,
    parallelToolCalls: false,
  }],
  // codex-mini-latest: o4-mini tuned for Codex, served only by the Responses API.
  [/^codex-mini/, {
    maxOutput: 100_000,
    contextWindow: 200_000,
    reasoning: true,
    openaiReasoning: true,
  }],
  [/^gpt-oss/, { maxOutput: 131_072, contextWindow: 131_072, reasoning: true }],
  [/^gpt-4\.1/, { maxOutput: 32_768, contextWindow: 1_047_576 }],
  [/^gpt-4o/, { maxOutput: 16_384, contextWindow: 128_000 }],
  [/^chatgpt-4o/, { maxOutput: 16_384, contextWindow: 128_000 }],
  [/^gpt-4-turbo/, { maxOutput: 4_096, contextWindow: 128_000 }],
  [/^gpt-4/, { maxOutput: 8_192, contextWindow: 8_192 }],
  [/^gpt-3\.5/, { maxOutput: 4_096, contextWindow: 16_385 }],
  // Anthropic models behind OpenRouter and other routers.
  [/^claude-(opus|sonnet)-4|^claude-(opus|sonnet)-[5-9]|^claude-3[.-]7/, {
    maxOutput: 64_000,
    contextWindow: 200_000,
    reasoning: true,
  }],
  [/^claude-haiku-4/, { maxOutput: 64_000, contextWindow: 200_000, reasoning: true }],
  [/^claude-/, { maxOutput: 8_192, contextWindow: 200_000 }],
  // DeepSeek. https://api-docs.deepseek.com/quick_start/pricing — V4 thinks by default.
  [/^deepseek-reasoner/, { maxOutput: 64_000, contextWindow: 128_000, reasoning: true }],
  [/^deepseek-chat/, { maxOutput: 8_192, contextWindow: 128_000 }],
  [/^deepseek-(flash|pro|v4)/, { maxOutput: 384_000, contextWindow: 1_000_000, reasoning: true }],
  [/^deepseek-v3\.[1-9]/, { maxOutput: 65_536, contextWindow: 128_000, reasoning: true }],
  // Google. https://ai.google.dev/gemini-api/docs/models
  [/^gemini-(2\.5|3)/, { maxOutput: 65_536, contextWindow: 1_048_576, reasoning: true }],
  [/^gemini-2\.0/, { maxOutput: 8_192, contextWindow: 1_048_576 }],
  [/^gemini-1\.5/, { maxOutput: 8_192, contextWindow: 1_048_576 }],
  // Mistral. https://docs.mistral.ai/getting-started/models/
  [/^(mistral-large|mistral-medium|codestral|devstral)/, {
    maxOutput: 32_768,
    contextWindow: 128_000,
  }],
  [/^magistral/, { maxOutput: 40_000, contextWindow: 128_000, reasoning: true }],
  // Open models, usually behind Ollama, vLLM or a router. Qwen3-Coder and the Qwen3 "instruct"
  // releases have no thinking mode, and Ollama answers any reasoning_effort for them with a 400
  // ("… does not support thinking").
  [/^qwen3.*(coder|instruct)/, {}],
  [/^(qwq|qwen3)/, { reasoning: true }],
  // xAI (https://docs.x.ai/docs/guides/reasoning): grok-3-mini takes reasoning_effort low|high;
  // grok-4 reasons on its own and answers reasoning_effort with a 400, as do grok-4.20's and
  // the fast variants; grok-4.3 and later take it again.
  [/^grok-3-mini/, { reasoning: true, efforts: ["low", "high"] }],
  [/^grok-4\.([3-9]|\d\d)(?!\d)|^grok-[5-9]/, { reasoning: true }],
  [/^grok-/, {}],
  // kimi-k2-thinking always thinks (no switch); kimi-k2.5 and later take `thinking: {type}`.
  // https://platform.moonshot.ai/docs/guide/use-kimi-k2-thinking-model
  [/^kimi-k2-thinking/, {}],
  [/^kimi-k2\.[5-9]|^kimi-k[3-9]/, { reasoning: true }],
  [/^(glm-4\.[5-9]|glm-[5-9]|minimax-m2)/, { reasoning: true }],
  [/thinking|reasoner|-r1\b|^r1/, { reasoning: true }],
];

/** Unknown models get this cap so Claude Code's 32k–64k requests do not trip a 400. */
export const DEFAULT_OUTPUT_CAP = 16_384;

/**
 * Drops a router prefix (`openai/gpt-4o`, `models/gemini-2.5-pro`) and OpenAI's fine-tune
 * prefix (`ft:o4-mini-2025-04-16:org::id`) before matching.
 */
function bareName(model: string): string {
  const lower = model.toLowerCase();
  const slash = lower.lastIndexOf("/");
  const name = slash >= 0 ? lower.slice(slash + 1) : lower;
  return name.startsWith("ft:") ? name.slice(3) : name;
}

export function modelInfo(
  model: string,
  overrides: Readonly<{
    reasoningModels: readonly string[];
    nonReasoningModels: readonly string[];
    modelLimits?: ModelLimits | undefined;
  }>,
): ModelInfo {
  const name = bareName(model);
  const row = TABLE.find(([re]) => re.test(name))?.[1] ?? {};
  const info: ModelInfo = {
    maxOutput: row.maxOutput,
    contextWindow: row.contextWindow,
    reasoning: row.reasoning ?? false,
    openaiReasoning: row.openaiReasoning ?? false,
    acceptsEffortNone: row.acceptsEffortNone ?? false,
    parallelToolCalls: row.parallelToolCalls ?? true,
    efforts: row.efforts,
  };
  const lowerModel = model.toLowerCase();
  if (overrides.reasoningModels.some((m) => m.toLowerCase() === lowerModel)) info.reasoning = true;
  // Only the reasoning control goes: an o-series model still needs max_completion_tokens.
  if (overrides.nonReasoningModels.some((m) => m.toLowerCase() === lowerModel)) {
    info.reasoning = false;
  }
  // The full name first (`org/model`), then the bare one, so both spellings work.
  const limits = ownValue(overrides.modelLimits, lowerModel) ??
    ownValue(overrides.modelLimits, name);
  if (limits?.context !== undefined) info.contextWindow = limits.context;
  if (limits?.output !== undefined) info.maxOutput = limits.output;
  return info;
}

/** A map's own entry: a model named `constructor` or `__proto__` finds nothing inherited. */
function ownValue<T>(map: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return map !== undefined && Object.hasOwn(map, key) ? map[key] : undefined;
}

/**
 * A model's limits as the proxy applies them, in the fields of Anthropic's Models API
 * (`max_input_tokens`, `max_tokens`: https://docs.anthropic.com/en/api/models-list); the window
 * is left out where unknown.
 */
export function modelLimitFields(
  info: ModelInfo,
  cap: number | undefined,
): { max_input_tokens?: number; max_tokens: number } {
  return {
    ...(info.contextWindow !== undefined ? { max_input_tokens: info.contextWindow } : {}),
    // The most a request gets: the model's limit within the configured cap (clampMaxTokens).
    max_tokens: clampMaxTokens(Number.MAX_SAFE_INTEGER, info, cap),
  };
}

/** The `max_tokens` to send: the client's ask, within the model's limit and the configured cap. */
export function clampMaxTokens(
  requested: number,
  info: ModelInfo,
  cap: number | undefined,
): number {
  // For an unknown model the configured cap replaces the default instead of only lowering it.
  let limit = info.maxOutput ?? cap ?? DEFAULT_OUTPUT_CAP;
  if (cap !== undefined) limit = Math.min(limit, cap);
  return Math.max(1, Math.min(requested, limit));
}
