/**
 * Which OpenAI-compatible provider a base URL belongs to, from the providers' documented
 * addresses. A leaf module: configuration validates names against it without loading profiles.
 */

/** Every profile name, plus `auto` (detect from the base URL). */
export const PROVIDER_SETTINGS = [
  "auto",
  "openai",
  "azure",
  "openrouter",
  "ollama",
  "deepseek",
  "gemini",
  "mistral",
  "moonshot",
  "zhipu",
  "minimax",
  "dashscope",
  "xai",
  "groq",
  "cerebras",
  "together",
  "fireworks",
  "lmstudio",
  "vllm",
  "llamacpp",
  "generic",
] as const;
export type ProviderSetting = typeof PROVIDER_SETTINGS[number];
export type ProviderName = Exclude<ProviderSetting, "auto">;

/** Hosted providers by the hosts their documentation gives for the OpenAI-compatible API. */
const HOSTED: [RegExp, ProviderName][] = [
  // https://platform.moonshot.ai/docs (international) and platform.moonshot.cn
  [/(^|\.)moonshot\.(ai|cn)$|(^|\.)kimi\.com$/, "moonshot"],
  // https://docs.z.ai (api.z.ai/api/paas/v4, /api/coding/paas/v4) and open.bigmodel.cn
  [/(^|\.)z\.ai$|(^|\.)bigmodel\.cn$/, "zhipu"],
  // https://platform.minimax.io/docs (api.minimax.io; api.minimaxi.com in mainland China)
  [/(^|\.)minimaxi?\.(io|com|chat)$/, "minimax"],
  // https://help.aliyun.com/en/model-studio (dashscope[-intl|-us].aliyuncs.com/compatible-mode/v1)
  [/^dashscope[\w-]*\.aliyuncs\.com$/, "dashscope"],
  [/^api\.x\.ai$/, "xai"],
  [/^api\.groq\.com$/, "groq"],
  [/^api\.cerebras\.ai$/, "cerebras"],
  [/^api\.together\.(xyz|ai)$/, "together"],
  [/^api\.fireworks\.ai$/, "fireworks"],
];

/** Recognises the big providers by their documented base URLs. */
export function detectProvider(baseUrl: string): ProviderName {
  const url = new URL(baseUrl);
  const host = url.hostname.toLowerCase();
  if (
    host.endsWith(".openai.azure.com") || host.endsWith(".cognitiveservices.azure.com") ||
    host.endsWith(".services.ai.azure.com")
  ) {
    return "azure";
  }
  if (url.pathname.includes("/openai/deployments/")) return "azure";
  if (host === "openrouter.ai" || host.endsWith(".openrouter.ai")) return "openrouter";
  if (host === "api.deepseek.com") return "deepseek";
  if (host === "generativelanguage.googleapis.com") return "gemini";
  if (host === "api.mistral.ai") return "mistral";
  if (host === "api.openai.com") return "openai";
  const hosted = HOSTED.find(([re]) => re.test(host));
  if (hosted) return hosted[1];
  // Ollama's default port, its Docker service name, or its cloud (ollama.com).
  if (url.port === "11434" || host.includes("ollama")) return "ollama";
  // The local servers' default ports: LM Studio 1234, vLLM 8000, llama.cpp's llama-server 8080.
  if (url.port === "1234") return "lmstudio";
  if (url.port === "8000") return "vllm";
  if (url.port === "8080") return "llamacpp";
  return "generic";
}
