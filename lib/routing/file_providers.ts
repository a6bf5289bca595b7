/**
 * The configuration file's providers → Provider values, each setting the file leaves out
 * taken from the variables (timeouts, retries, thinking budgets), as for the `default` provider.
 */
import type { Config } from "../ops/config.ts";
import { DEFAULT_SEARCH_URLS, type SearchSettings } from "../ops/search_settings.ts";
import type { ModelLimits } from "../upstreams/model_info.ts";
import { attributionHeaders, resolveProfile } from "../upstreams/openai/profiles.ts";
import type { Provider } from "../upstreams/provider.ts";
import type { ProviderEntry } from "./file_schema.ts";

const ms = (s: number | undefined, fallback: number) => (s === undefined ? fallback : s * 1000);

export function fileProvider(name: string, entry: ProviderEntry, config: Config): Provider {
  const profile = resolveProfile(entry.profile, entry.base_url, entry.midconversation_system);
  const keys = entry.api_keys ?? (entry.api_key !== undefined ? [entry.api_key] : []);
  return Object.freeze({
    name,
    settingNames: Object.freeze({
      apiKey: `providers.${name}.${entry.api_keys ? "api_keys" : "api_key"}`,
      baseUrl: `providers.${name}.base_url`,
      ...(entry.first_byte_timeout_s !== undefined
        ? { firstByteTimeout: `providers.${name}.first_byte_timeout_s` }
        : {}),
      ...(entry.nonstream_first_byte_timeout_s !== undefined
        ? { nonStreamFirstByteTimeout: `providers.${name}.nonstream_first_byte_timeout_s` }
        : {}),
      ...(entry.request_timeout_s !== undefined
        ? { requestTimeout: `providers.${name}.request_timeout_s` }
        : {}),
      ...(entry.stream_idle_timeout_s !== undefined
        ? { streamIdleTimeout: `providers.${name}.stream_idle_timeout_s` }
        : {}),
    }),
    api: entry.api,
    baseUrl: entry.base_url,
    profile,
    apiKey: keys[0],
    apiKeys: Object.freeze([...keys]),
    models: Object.freeze([...entry.models]),
    headers: Object.freeze({
      // OpenRouter's attribution, as with OPENROUTER_REFERER / OPENROUTER_TITLE; the file's
      // own headers win.
      ...attributionHeaders(profile, config.openrouterReferer, config.openrouterTitle),
      ...Object.fromEntries(Object.entries(entry.headers).map(([k, v]) => [k.toLowerCase(), v])),
    }),
    extraBody: Object.freeze({ ...entry.extra_body }),
    azureApiVersion: entry.azure_api_version ?? config.azureApiVersion,
    maxTokensLimit: entry.max_tokens_limit ?? config.maxTokensLimit,
    reasoningModels: Object.freeze([...(entry.reasoning_models ?? [])]),
    nonReasoningModels: Object.freeze([...(entry.non_reasoning_models ?? [])]),
    effortThresholds: config.effortThresholds,
    firstByteTimeoutMs: ms(entry.first_byte_timeout_s, config.firstByteTimeoutMs),
    nonStreamFirstByteTimeoutMs: ms(
      entry.nonstream_first_byte_timeout_s,
      config.nonStreamFirstByteTimeoutMs,
    ),
    requestTimeoutMs: ms(entry.request_timeout_s, config.requestTimeoutMs),
    streamIdleTimeoutMs: ms(entry.stream_idle_timeout_s, config.streamIdleTimeoutMs),
    maxRetries: entry.max_retries ?? config.maxRetries,
    retryMaxDelayMs: config.retryMaxDelayMs,
    modelLimits: modelLimits(entry.model_limits, config.modelLimits),
    search: entry.search === false
      ? undefined
      : entry.search === undefined
      ? config.search
      : searchSettings(entry.search, config),
  });
}

/** The file's limits over MODEL_LIMITS; names match in any case, as there. */
function modelLimits(
  own: ProviderEntry["model_limits"],
  fromEnv: ModelLimits,
): ModelLimits {
  if (own === undefined) return fromEnv;
  const out: Record<string, { context?: number; output?: number }> = { ...fromEnv };
  for (const [name, limits] of Object.entries(own)) out[name.toLowerCase()] = { ...limits };
  return Object.freeze(out);
}

function searchSettings(
  entry: Exclude<ProviderEntry["search"], false | undefined>,
  config: Config,
): SearchSettings {
  const root = entry.url ??
    (entry.provider === "searxng" ? "" : DEFAULT_SEARCH_URLS[entry.provider]);
  return Object.freeze({
    backend: entry.provider,
    baseUrl: root.replace(/\/+$/, ""),
    apiKey: entry.provider === "searxng" ? undefined : entry.api_key,
    timeoutMs: entry.timeout_s === undefined
      ? config.searchLimits.timeoutMs
      : entry.timeout_s * 1000,
    maxResults: entry.max_results ?? config.searchLimits.maxResults,
    fetchMaxBytes: config.searchLimits.fetchMaxBytes,
  });
}
