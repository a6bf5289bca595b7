/**
 * One configured upstream as the protocols and the transport see it: where it is, which API it
 * speaks, how to authenticate, its quirks and its limits. Built once from the configuration.
 */
import type { EffortThresholds } from "./thinking.ts";
import type { Profile } from "./openai/profiles.ts";
import type { ModelLimits } from "./model_info.ts";
import type { SearchSettings } from "../ops/search_settings.ts";

/**
 * The upstream protocols: OpenAI Chat Completions, Anthropic Messages (pass-through) and the
 * OpenAI Responses API. A protocol may be missing from the registry (see protocols.ts).
 */
export type UpstreamApi = "chat" | "anthropic" | "responses";

export const UPSTREAM_APIS: readonly UpstreamApi[] = ["chat", "anthropic", "responses"];

/**
 * What a provider is configured to speak: one protocol, or `auto` (Chat Completions, except for
 * models that need the Responses API: see api_choice.ts).
 */
export type ApiSetting = UpstreamApi | "auto";

export const API_SETTINGS: readonly ApiSetting[] = ["auto", ...UPSTREAM_APIS];

/** Where a provider's key and base URL are set: named in the hints of errors they may cause. */
export type ProviderSettingNames = Readonly<{
  apiKey: string;
  baseUrl: string;
  /** Set when the file sets them; otherwise the variables' values apply, under their names. */
  firstByteTimeout?: string;
  nonStreamFirstByteTimeout?: string;
  requestTimeout?: string;
  streamIdleTimeout?: string;
}>;

export type Provider = Readonly<{
  /** `default` for the provider made from the environment variables. */
  name: string;
  api: ApiSetting;
  /** Without a trailing slash. */
  baseUrl: string;
  profile: Profile;
  /** The first key of the pool: what a request without a key pool (models list, doctor) uses. */
  apiKey: string | undefined;
  /** Every key, used round-robin (see routing/health.ts); empty when the upstream needs none. */
  apiKeys: readonly string[];
  /** The models the configuration names for this provider (listed by /v1/models). */
  models: readonly string[];
  /** Sent with every request after the key header (attribution, CUSTOM_HEADER_*). */
  headers: Readonly<Record<string, string>>;
  /** Merged into every request body as given. */
  extraBody: Readonly<Record<string, unknown>>;
  azureApiVersion: string | undefined;
  /** Caps `max_tokens` for every model of this provider. */
  maxTokensLimit: number | undefined;
  reasoningModels: readonly string[];
  nonReasoningModels: readonly string[];
  /** The operator's context window and output limit per model, over the built-in table. */
  modelLimits?: ModelLimits;
  effortThresholds: EffortThresholds;
  /** Headers must arrive within this for a streamed request. */
  firstByteTimeoutMs: number;
  /**
   * Headers must arrive within this for a request that is not streamed (the upstream sends them
   * when the whole answer is ready, so this is longer than firstByteTimeoutMs).
   */
  nonStreamFirstByteTimeoutMs: number;
  /** The whole exchange, answer included. */
  requestTimeoutMs: number;
  /** A started stream that sends nothing for this long is cut. */
  streamIdleTimeoutMs: number;
  maxRetries: number;
  retryMaxDelayMs: number;
  /** The backend that runs web_search / web_fetch for this provider's models; none: left out. */
  search?: SearchSettings | undefined;
  /** Set for a provider of the configuration file; the variables' provider has OPENAI_*. */
  settingNames?: ProviderSettingNames;
}>;
