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
  "generic",
] as const;
export type ProviderSetting = typeof PROVIDER_SETTINGS[number];
export type ProviderName = Exclude<ProviderSetting, "auto">;

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
  // Ollama's default port, its Docker service name, or its cloud (ollama.com).
  if (url.port === "11434" || host.includes("ollama")) return "ollama";
  return "generic";
}
