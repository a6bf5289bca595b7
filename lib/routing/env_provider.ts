/**
 * The one provider the environment variables describe (OPENAI_BASE_URL, OPENAI_API_KEY,
 * PROVIDER, CUSTOM_HEADER_* …), named `default`, as it was before providers could be several.
 */
import type { Config } from "../ops/config.ts";
import { attributionHeaders, resolveProfile } from "../upstreams/openai/profiles.ts";
import type { Provider } from "../upstreams/provider.ts";

export function envProvider(config: Config): Provider {
  const profile = resolveProfile(
    config.provider,
    config.openaiBaseUrl,
    config.midConversationSystem,
  );
  return Object.freeze({
    name: "default",
    api: config.openaiApi,
    baseUrl: config.openaiBaseUrl,
    profile,
    apiKey: config.openaiApiKey,
    apiKeys: Object.freeze(config.openaiApiKey ? [config.openaiApiKey] : []),
    models: Object.freeze([]),
    headers: Object.freeze({
      ...attributionHeaders(profile, config.openrouterReferer, config.openrouterTitle),
      ...config.customHeaders,
    }),
    extraBody: config.extraBody,
    azureApiVersion: config.azureApiVersion,
    maxTokensLimit: config.maxTokensLimit,
    reasoningModels: config.reasoningModels,
    nonReasoningModels: config.nonReasoningModels,
    modelLimits: config.modelLimits,
    effortThresholds: config.effortThresholds,
    firstByteTimeoutMs: config.firstByteTimeoutMs,
    nonStreamFirstByteTimeoutMs: config.nonStreamFirstByteTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    streamIdleTimeoutMs: config.streamIdleTimeoutMs,
    maxRetries: config.maxRetries,
    retryMaxDelayMs: config.retryMaxDelayMs,
    search: config.search,
  });
}
