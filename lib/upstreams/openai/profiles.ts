/**
 * What differs between OpenAI-compatible upstreams, as data: one profile per provider,
 * picked from the base URL unless PROVIDER says otherwise.
 */
import { detectProvider, type ProviderName, type ProviderSetting } from "./detect_provider.ts";

export type { ProviderName };

export type Profile = Readonly<{
  name: ProviderName;
  /** Keeps `role: "system"` messages in place; others get them merged into the first one. */
  midConversationSystem: boolean;
  /** Accepts `response_format: {type: "json_schema"}`; otherwise `json_object` is used. */
  jsonSchema: boolean;
  /** Rejects JSON Schema keywords outside the OpenAPI subset (Gemini). */
  strictSchemas: boolean;
  /** Request fields the provider accepts; undefined means it ignores unknown ones. */
  allowedFields: ReadonlySet<string> | undefined;
  /**
   * How to ask for reasoning: OpenAI's `reasoning_effort`, OpenRouter's `reasoning`, DeepSeek's
   * `thinking` + `reasoning_effort`, a `thinking: {type}` switch (Kimi, GLM), DashScope's
   * `enable_thinking` + `thinking_budget`, or the chat template's `enable_thinking` switch
   * through `chat_template_kwargs` (vLLM, llama.cpp serving Qwen3 and the like).
   */
  reasoning:
    | "reasoning_effort"
    | "openrouter"
    | "deepseek"
    | "thinking_type"
    | "enable_thinking"
    | "chat_template_kwargs"
    | "none";
  /** Tool call ids must be 9 alphanumeric characters (Mistral). */
  shortToolIds: boolean;
  /**
   * Wants `reasoning_content` echoed on assistant messages (DeepSeek). Its thinking mode needs it on
   * every assistant message between two user messages where a tool was called, the final answer
   * included (https://api-docs.deepseek.com/guides/thinking_mode), and ignores it elsewhere, so
   * every assistant message gets it (an empty string when the client dropped the thinking).
   */
  echoReasoningContent: boolean;
  /** Sends `stream_options.include_usage` (some strict servers reject the field). */
  streamUsageOption: boolean;
  /** `api-key` header instead of `Authorization: Bearer`. */
  apiKeyHeader: boolean;
  /**
   * Sends Gemini's thought signatures back as `extra_content` on tool calls. Only where it is
   * understood: OpenAI answers an unknown field in a message with a 400.
   */
  toolCallExtraContent: boolean;
  /**
   * Applies OpenAI's rules for its reasoning models itself (max_completion_tokens, no stop, no
   * sampling). OpenRouter does that translation on its side and documents only `max_tokens`.
   */
  openaiReasoningRules: boolean;
  /** The most tools a request may carry; more is refused with a 400 naming the limit. */
  maxTools: number | undefined;
  /** The output limit's field name, where the provider deprecates `max_tokens`. */
  maxTokensField: "max_tokens" | "max_completion_tokens";
  /** Fields the provider refuses outright, removed before sending. */
  rejectedFields: ReadonlySet<string> | undefined;
  /** Accepts only `tool_choice: "auto"`: a forced choice is sent as auto. */
  toolChoiceAutoOnly: boolean;
  /** Streams tool-call arguments only when asked (`tool_stream: true`), else sends them whole. */
  toolStreamField: boolean;
  /** Lowest temperature accepted; lower values are raised to it. */
  minTemperature: number | undefined;
  /** Models of this provider that take only some `reasoning_effort` values, by name. */
  modelEfforts: readonly (readonly [RegExp, readonly string[]])[];
}>;

const BASE: Profile = {
  name: "generic",
  midConversationSystem: false,
  jsonSchema: true,
  strictSchemas: false,
  allowedFields: undefined,
  reasoning: "reasoning_effort",
  shortToolIds: false,
  echoReasoningContent: false,
  streamUsageOption: true,
  apiKeyHeader: false,
  // Generic upstreams are often routers in front of Gemini (LiteLLM and the like).
  toolCallExtraContent: true,
  openaiReasoningRules: true,
  maxTools: undefined,
  maxTokensField: "max_tokens",
  rejectedFields: undefined,
  toolChoiceAutoOnly: false,
  toolStreamField: false,
  minTemperature: undefined,
  modelEfforts: [],
};

/** What hosted open-model providers share: no Gemini signatures, no OpenAI reasoning rules. */
const HOSTED: Profile = {
  ...BASE,
  toolCallExtraContent: false,
  openaiReasoningRules: false,
};

// https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post
const MISTRAL_FIELDS = new Set([
  "model",
  "messages",
  "temperature",
  "top_p",
  "max_tokens",
  "stream",
  "stop",
  "random_seed",
  "response_format",
  "tools",
  "tool_choice",
  "presence_penalty",
  "frequency_penalty",
  "parallel_tool_calls",
  "prediction",
  "prompt_mode",
  "safe_prompt",
]);

const PROFILES: Record<ProviderName, Profile> = {
  generic: BASE,
  // "A max of 128 functions are supported." https://platform.openai.com/docs/api-reference/chat/create
  openai: {
    ...BASE,
    name: "openai",
    midConversationSystem: true,
    toolCallExtraContent: false,
    maxTools: 128,
  },
  azure: {
    ...BASE,
    name: "azure",
    midConversationSystem: true,
    apiKeyHeader: true,
    toolCallExtraContent: false,
    maxTools: 128,
  },
  openrouter: {
    ...BASE,
    name: "openrouter",
    reasoning: "openrouter",
    toolCallExtraContent: false,
    openaiReasoningRules: false,
  },
  ollama: { ...BASE, name: "ollama", toolCallExtraContent: false },
  deepseek: {
    ...BASE,
    name: "deepseek",
    reasoning: "deepseek",
    echoReasoningContent: true,
    jsonSchema: false,
    toolCallExtraContent: false,
  },
  gemini: { ...BASE, name: "gemini", strictSchemas: true },
  mistral: {
    ...BASE,
    name: "mistral",
    allowedFields: MISTRAL_FIELDS,
    reasoning: "none",
    shortToolIds: true,
    streamUsageOption: false,
    toolCallExtraContent: false,
    // Mistral takes only `max_tokens`; `max_completion_tokens` would be filtered out, unbounded.
    openaiReasoningRules: false,
  },
  // Kimi: at most 128 tools per request; kimi-k2.5 thinks unless `thinking: {type: "disabled"}`;
  // thinking models need their `reasoning_content` back on assistant messages with tool calls;
  // JSON mode is `json_object` only. https://platform.moonshot.ai/docs/api/chat and
  // https://platform.moonshot.ai/docs/guide/use-kimi-k2-thinking-model
  moonshot: {
    ...HOSTED,
    name: "moonshot",
    reasoning: "thinking_type",
    echoReasoningContent: true,
    jsonSchema: false,
    maxTools: 128,
  },
  // GLM (Z.AI, BigModel): `thinking: {type}`; thinking kept across tool calls wants
  // `reasoning_content` back; only `tool_choice: "auto"`; tool arguments stream only with
  // `tool_stream: true`; no `stream_options` (usage comes in the last chunk anyway); JSON mode is
  // `json_object`. https://docs.z.ai/api-reference/llm/chat-completion and
  // https://docs.z.ai/guides/capabilities/thinking-mode
  zhipu: {
    ...HOSTED,
    name: "zhipu",
    reasoning: "thinking_type",
    echoReasoningContent: true,
    jsonSchema: false,
    streamUsageOption: false,
    toolChoiceAutoOnly: true,
    toolStreamField: true,
    rejectedFields: new Set(["frequency_penalty", "presence_penalty"]),
  },
  // MiniMax: temperature in (0, 1]; `max_tokens` deprecated for `max_completion_tokens`; M2
  // thinks in `<think>` tags inside the content, which must go back as written (Claude Code
  // echoes the text). https://platform.minimax.io/docs/api-reference/text-openai-api
  minimax: {
    ...HOSTED,
    name: "minimax",
    reasoning: "none",
    jsonSchema: false,
    maxTokensField: "max_completion_tokens",
    minTemperature: 0.01,
  },
  // DashScope (Qwen): `enable_thinking` + `thinking_budget`; open Qwen3 models think by default
  // and refuse a non-streamed call unless `enable_thinking` is false.
  // https://help.aliyun.com/en/model-studio/deep-thinking
  dashscope: {
    ...HOSTED,
    name: "dashscope",
    reasoning: "enable_thinking",
    jsonSchema: false,
  },
  // xAI: `reasoning_effort` only where the model takes it (grok-3-mini: low|high).
  // https://docs.x.ai/docs/guides/reasoning
  xai: { ...HOSTED, name: "xai" },
  // Groq: `logprobs`, `logit_bias`, `top_logprobs`, `messages[].name` and n > 1 are a 400;
  // `max_tokens` is deprecated for `max_completion_tokens`. https://console.groq.com/docs/openai
  // Qwen3 there takes only reasoning_effort "none" or "default" (https://console.groq.com/docs/reasoning).
  groq: {
    ...HOSTED,
    name: "groq",
    modelEfforts: [[/qwen3/i, ["default"]]],
    maxTokensField: "max_completion_tokens",
    rejectedFields: new Set(["logprobs", "logit_bias", "top_logprobs", "n"]),
  },
  // Cerebras: `frequency_penalty`, `logit_bias`, `presence_penalty`, `parallel_tool_calls` and
  // `service_tier` are a 400. https://inference-docs.cerebras.ai/resources/openai
  cerebras: {
    ...HOSTED,
    name: "cerebras",
    maxTokensField: "max_completion_tokens",
    rejectedFields: new Set([
      "frequency_penalty",
      "logit_bias",
      "presence_penalty",
      "parallel_tool_calls",
      "service_tier",
    ]),
  },
  // https://docs.together.ai/docs/openai-api-compatibility
  together: { ...HOSTED, name: "together" },
  // https://docs.fireworks.ai/tools-sdks/openai-compatibility
  fireworks: { ...HOSTED, name: "fireworks" },
  // Local servers: https://lmstudio.ai/docs/app/api/endpoints/openai,
  // https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html (Qwen3's thinking switch
  // is the chat template's `enable_thinking`), llama.cpp tools/server/README.md (the same
  // `chat_template_kwargs`).
  lmstudio: { ...HOSTED, name: "lmstudio" },
  vllm: { ...HOSTED, name: "vllm", reasoning: "chat_template_kwargs" },
  llamacpp: { ...HOSTED, name: "llamacpp", reasoning: "chat_template_kwargs" },
};

/** The profile for a provider setting (`auto`: from the base URL), with the operator's overrides. */
export function resolveProfile(
  setting: ProviderSetting,
  baseUrl: string,
  midConversationSystem?: "merge" | "keep" | undefined,
): Profile {
  const profile = PROFILES[setting === "auto" ? detectProvider(baseUrl) : setting];
  if (midConversationSystem === undefined) return profile;
  return { ...profile, midConversationSystem: midConversationSystem === "keep" };
}

/** What the URL and header builders need to know of a provider. */
export type Endpoint = Readonly<{
  baseUrl: string;
  profile: Profile;
  azureApiVersion: string | undefined;
}>;

/**
 * Whether OpenAI's reasoning-model rules apply: by the model's name, or — on OpenAI and Azure,
 * where a deployment name says nothing — because REASONING_MODELS lists it.
 */
export function usesOpenAIReasoningRules(
  info: { openaiReasoning: boolean; reasoning: boolean },
  profile: Profile,
): boolean {
  if (!profile.openaiReasoningRules) return false;
  if (info.openaiReasoning) return true;
  return (profile.name === "openai" || profile.name === "azure") && info.reasoning;
}

// GA data-plane version. https://learn.microsoft.com/azure/ai-services/openai/reference
const DEFAULT_AZURE_API_VERSION = "2024-10-21";

/** The base URL's path without trailing slashes or a pasted `/chat/completions`. */
function basePath(url: URL): string {
  return url.pathname.replace(/\/+$/, "").replace(/\/chat\/completions$/, "");
}

/**
 * The chat completions URL for this upstream. Azure has three shapes
 * (https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle):
 * - `…/openai/v1`: the versionless API; a dated `api-version` there answers 404.
 * - `…/openai/deployments/{name}`: the deployment is in the URL and `api-version` is required.
 * - the resource root (or `…/openai`): the deployment is the model name.
 */
export function chatCompletionsUrl(endpoint: Endpoint, upstreamModel: string): string {
  const url = new URL(endpoint.baseUrl);
  let path = basePath(url);
  if (endpoint.profile.name === "azure") {
    if (/\/openai\/v1$/.test(path)) {
      url.pathname = `${path}/chat/completions`;
      return url.toString();
    }
    if (!path.includes("/openai/deployments/")) {
      const root = path.replace(/\/openai$/, "");
      path = `${root}/openai/deployments/${encodeURIComponent(upstreamModel)}`;
    }
    url.pathname = `${path}/chat/completions`;
    if (!url.searchParams.has("api-version")) {
      url.searchParams.set("api-version", endpoint.azureApiVersion ?? DEFAULT_AZURE_API_VERSION);
    }
    return url.toString();
  }
  url.pathname = `${path}/chat/completions`;
  return url.toString();
}

/**
 * Outside Azure the URL depends on the base URL alone, which comes from the configuration:
 * worked out once per base URL instead of parsing and re-serializing a URL per request.
 */
const plainUrls = new Map<string, string>();
export function cachedChatCompletionsUrl(endpoint: Endpoint, upstreamModel: string): string {
  if (endpoint.profile.name === "azure") return chatCompletionsUrl(endpoint, upstreamModel);
  let url = plainUrls.get(endpoint.baseUrl);
  if (url === undefined) {
    url = chatCompletionsUrl(endpoint, upstreamModel);
    plainUrls.set(endpoint.baseUrl, url);
  }
  return url;
}

/** The models list URL, for `GET /v1/models`. */
export function modelsUrl(endpoint: Endpoint): string {
  const url = new URL(endpoint.baseUrl);
  const path = basePath(url);
  if (endpoint.profile.name === "azure" && !/\/openai\/v1$/.test(path)) {
    // Deployments have no list of their own; the resource lists the models it can deploy.
    url.pathname = `${path.replace(/\/openai(\/deployments\/[^/]*)?$/, "")}/openai/models`;
    if (!url.searchParams.has("api-version")) {
      url.searchParams.set("api-version", endpoint.azureApiVersion ?? DEFAULT_AZURE_API_VERSION);
    }
    return url.toString();
  }
  url.pathname = `${path}/models`;
  return url.toString();
}

/**
 * OpenRouter's attribution headers (https://openrouter.ai/docs/api-reference/overview): only
 * for OpenRouter, where they name the app on its leaderboard.
 */
export function attributionHeaders(
  profile: Profile,
  referer: string | undefined,
  title: string | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {};
  if (profile.name !== "openrouter") return headers;
  if (referer) headers["http-referer"] = referer;
  if (title) {
    headers["x-openrouter-title"] = title;
    headers["x-title"] = title;
  }
  return headers;
}

/**
 * Headers sent upstream: the provider's key and its configured headers, never anything the
 * client sent.
 */
export function upstreamHeaders(
  endpoint: Pick<Endpoint, "profile"> & { headers: Readonly<Record<string, string>> },
  apiKey: string | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
  };
  if (apiKey) {
    if (endpoint.profile.apiKeyHeader) headers["api-key"] = apiKey;
    else headers["authorization"] = `Bearer ${apiKey}`;
  }
  for (const k in endpoint.headers) headers[k] = endpoint.headers[k]!;
  return headers;
}
