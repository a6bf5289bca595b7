/**
 * The routing configuration file's shape (`--config FILE` / CONFIG_FILE), validated with zod
 * after `${VAR}` expansion. Each provider is one object, so new per-provider keys are one line.
 * docs/routing.md documents every key.
 */
import { z } from "zod";
import { PROVIDER_SETTINGS } from "../upstreams/openai/detect_provider.ts";
import { API_SETTINGS } from "../upstreams/provider.ts";
import { SEARCH_BACKENDS } from "../ops/search_settings.ts";

/** Provider names: no `/` or `,`, which separate a provider from its model in a model name. */
export const PROVIDER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** The separator gets its own message: it is the mistake worth explaining. */
const ProviderName = z.string()
  .refine((s) => !/[/,]/.test(s), {
    message:
      'a provider name may not contain "/" or ",": they separate provider and model in "provider/model"',
    abort: true,
  })
  .regex(PROVIDER_NAME, "a provider name has letters, digits, _ . - only, and starts with one");

const seconds = z.number().positive().max(86_400);
const modelList = z.array(z.string().trim().min(1));

/** As SEARCH_PROVIDER and its variables: brave and tavily need a key, searxng its URL. */
const SearchEntry = z.strictObject({
  provider: z.enum(SEARCH_BACKENDS),
  api_key: z.string().trim().min(1).optional(),
  /** SearXNG's instance, or another API root for brave / tavily. */
  url: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).optional(),
  timeout_s: seconds.optional(),
  max_results: z.number().int().min(1).max(20).optional(),
}).refine((s) => s.provider === "searxng" ? s.url !== undefined : s.api_key !== undefined, {
  message: "brave and tavily need api_key; searxng needs url",
});

const Price = z.strictObject({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cached_input: z.number().nonnegative().optional(),
});

export const Prices = z.record(z.string().trim().min(1), Price).default({});

export const ProviderEntry = z.strictObject({
  base_url: z
    .string()
    .trim()
    .transform((v) => v.replace(/\/+$/, ""))
    .pipe(z.url({ protocol: /^https?$/, message: "must be an http(s) URL" })),
  api: z.enum(API_SETTINGS).default("auto"),
  api_key: z.string().trim().min(1).optional(),
  api_keys: z.array(z.string().trim().min(1)).min(1).optional(),
  /** Today's PROVIDER: quirks of an OpenAI-compatible upstream (auto: from the base URL). */
  profile: z.enum(PROVIDER_SETTINGS).default("auto"),
  /** The models this provider serves: listed by /v1/models as `provider/model`. */
  models: modelList.default([]),
  headers: z.record(z.string(), z.string()).default({}),
  extra_body: z.record(z.string(), z.unknown()).default({}),
  max_tokens_limit: z.number().int().positive().optional(),
  azure_api_version: z.string().trim().min(1).optional(),
  reasoning_models: modelList.optional(),
  non_reasoning_models: modelList.optional(),
  midconversation_system: z.enum(["merge", "keep"]).optional(),
  first_byte_timeout_s: seconds.optional(),
  nonstream_first_byte_timeout_s: seconds.optional(),
  request_timeout_s: seconds.optional(),
  stream_idle_timeout_s: seconds.optional(),
  max_retries: z.number().int().min(0).max(10).optional(),
  /** Context window and output limit per model, over the built-in table (as MODEL_LIMITS). */
  model_limits: z.record(
    z.string().trim().min(1),
    z.strictObject({
      context: z.number().int().positive().optional(),
      output: z.number().int().positive().optional(),
    }),
  ).optional(),
  /** The backend that runs web search and fetch for this provider's models; false: none. */
  search: z.union([z.literal(false), SearchEntry]).optional(),
}).refine((p) => !(p.api_key !== undefined && p.api_keys !== undefined), {
  message: "give api_key or api_keys, not both",
});

/** `provider/model` entries, tried in order; one entry may be given as a string. */
const Chain = z.union([
  z.string().trim().min(1).transform((s) => [s]),
  z.array(z.string().trim().min(1)).min(1),
]);

export const RouteCondition = z.strictObject({
  thinking: z.boolean().optional(),
  min_input_tokens: z.number().int().positive().optional(),
  images: z.boolean().optional(),
  tools_include: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
}).refine((c) => Object.keys(c).length > 0, { message: "a route needs at least one condition" });

export const FALLBACK_CAUSES = ["connect", "timeout", "429", "5xx", "overflow"] as const;
export type FallbackCause = typeof FALLBACK_CAUSES[number];

export const RoutingFile = z.strictObject({
  $schema: z.string().optional(),
  providers: z.record(ProviderName, ProviderEntry).refine((p) => Object.keys(p).length > 0, {
    message: "name at least one provider",
  }),
  models: z.strictObject({
    opus: Chain.optional(),
    sonnet: Chain.optional(),
    haiku: Chain.optional(),
  })
    .default({}),
  routes: z.array(z.strictObject({ if: RouteCondition, to: Chain })).default([]),
  fallback: z.strictObject({
    on: z.array(z.enum(FALLBACK_CAUSES)).default([...FALLBACK_CAUSES]),
    failures_to_open: z.number().int().positive().default(3),
    cooldown_s: z.number().positive().max(86_400).default(30),
  }).default({ on: [...FALLBACK_CAUSES], failures_to_open: 3, cooldown_s: 30 }),
  /** US dollars per million tokens, by model name: the dashboard's cost. */
  prices: Prices,
});

export type RoutingFile = z.infer<typeof RoutingFile>;
export type ProviderEntry = z.infer<typeof ProviderEntry>;
export type RouteCondition = z.infer<typeof RouteCondition>;
