/**
 * Configuration: environment plus an optional `.env` file → one validated, frozen Config.
 * The only module that reads variables; the names follow the Python proxy this replaces.
 */
import { z } from "zod";
import { parseDotenv } from "./dotenv.ts";
import { type LogFormat, type LogLevel, parseLogLevel } from "./log.ts";
import {
  detectProvider,
  PROVIDER_SETTINGS,
  type ProviderSetting,
} from "../upstreams/openai/detect_provider.ts";
import { DEFAULT_SEARCH_URLS, SEARCH_BACKENDS, type SearchSettings } from "./search_settings.ts";

/**
 * A number from the environment, refused in plain words with the accepted range (zod's own
 * "expected number, received NaN" names neither). `Number("")` is 0, so blank counts as unset.
 */
function numberIn(
  range: { min: number; max: number; integer: boolean; above?: boolean; unit?: string },
): z.ZodType<number | undefined, string | undefined> {
  return z.string().optional().transform((raw, ctx) => {
    const v = raw?.trim() ?? "";
    if (v === "") return undefined;
    const n = Number(v);
    const low = range.above ? n > range.min : n >= range.min;
    if (Number.isFinite(n) && low && n <= range.max && (!range.integer || Number.isInteger(n))) {
      return n;
    }
    const kind = range.integer ? "a whole number" : "a number";
    const unit = range.unit ? ` ${range.unit}` : "";
    const accepted = range.max === Number.MAX_SAFE_INTEGER
      ? `of ${range.min} or more`
      : `${range.above ? `above ${range.min} and up` : `from ${range.min}`} to ${range.max}`;
    ctx.addIssue({ code: "custom", message: `must be ${kind}${unit} ${accepted}, got "${raw}"` });
    return z.NEVER;
  });
}

const integer = (min: number, max: number, fallback: number) =>
  numberIn({ min, max, integer: true }).transform((n) => n ?? fallback);

const optionalInteger = (min: number) =>
  numberIn({ min, max: Number.MAX_SAFE_INTEGER, integer: true });

const seconds = (fallback: number) =>
  numberIn({ min: 0, max: 86_400, integer: false, above: true, unit: "of seconds" })
    .transform((s) => (s ?? fallback) * 1000);

/** One of a fixed set of words, in any case; undefined when unset. */
function optionalOneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.string().optional().transform((raw, ctx): T[number] | undefined => {
    const v = raw?.trim().toLowerCase() ?? "";
    if (v === "") return undefined;
    const found = values.find((x) => x === v);
    if (found !== undefined) return found;
    ctx.addIssue({ code: "custom", message: `must be one of ${values.join(", ")}, got "${raw}"` });
    return z.NEVER;
  });
}

const oneOf = <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
  optionalOneOf(values).transform((v): T[number] => v ?? fallback);

const name = (fallback: string) =>
  z.string().optional().transform((v) => (v?.trim() ? v.trim() : fallback));

const flag = z
  .string()
  .default("")
  .transform((v, ctx) => {
    const s = v.trim().toLowerCase();
    if (["", "0", "false", "no", "off"].includes(s)) return false;
    if (["1", "true", "yes", "on"].includes(s)) return true;
    ctx.addIssue({ code: "custom", message: `must be true or false, got "${v}"` });
    return z.NEVER;
  });

const list = z.string().default("").transform((v) =>
  v.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
);

const optional = z.string().trim().optional().transform((v) => (v ? v : undefined));

const tokenCount = z.number().int().positive().max(100_000_000);
/**
 * MODEL_LIMITS: upstream model name → its context window and output limit, in tokens (the shape
 * upstreams/model_info.ts reads).
 */
export type ModelLimits = Readonly<
  Record<string, Readonly<{ context?: number | undefined; output?: number | undefined }>>
>;
/** MODEL_LIMITS: upstream model name → its context window and output limit, in tokens. */
const ModelLimitsSchema = z.record(
  z.string().trim().min(1),
  z.strictObject({ context: tokenCount.optional(), output: tokenCount.optional() }),
).transform((limits): ModelLimits => {
  // Model names match in any case, as everywhere else in the configuration.
  // fromEntries defines own properties: a model named `__proto__` stays an ordinary entry.
  return Object.fromEntries(
    Object.entries(limits).map(([name, limit]) => [name.toLowerCase(), limit]),
  );
});

const EnvSchema = z.object({
  OPENAI_API_KEY: optional,
  OPENAI_BASE_URL: z
    .string()
    .trim()
    .default("https://api.openai.com/v1")
    .transform((v) => v.replace(/\/+$/, ""))
    .pipe(z.url({
      protocol: /^https?$/,
      error: (issue) => `must be an http:// or https:// URL, got "${String(issue.input)}"`,
    })),
  BIG_MODEL: name("gpt-4o"),
  MIDDLE_MODEL: optional,
  SMALL_MODEL: name("gpt-4o-mini"),
  ANTHROPIC_API_KEY: optional,
  HOST: name("127.0.0.1"),
  PORT: integer(0, 65_535, 8082),
  LOG_LEVEL: z.string().default("INFO").transform((v, ctx) => {
    const level = parseLogLevel(v);
    if (level) return level;
    ctx.addIssue({
      code: "custom",
      message: `must be one of DEBUG, INFO, WARNING, ERROR or CRITICAL (any case), got "${v}"`,
    });
    return z.NEVER;
  }),
  // Any case, like LOG_LEVEL.
  LOG_FORMAT: oneOf(["text", "json"], "text"),
  REQUEST_TIMEOUT: seconds(600),
  FIRST_BYTE_TIMEOUT: seconds(120),
  NONSTREAM_FIRST_BYTE_TIMEOUT: seconds(300),
  STREAM_IDLE_TIMEOUT: seconds(120),
  PING_INTERVAL: seconds(5),
  SHUTDOWN_GRACE: seconds(10),
  MAX_RETRIES: integer(0, 10, 2),
  RETRY_MAX_DELAY: seconds(30),
  MAX_TOKENS_LIMIT: optionalInteger(1),
  MAX_REQUEST_BYTES: integer(1, Number.MAX_SAFE_INTEGER, 32 * 1024 * 1024),
  ALLOW_REMOTE_WITHOUT_KEY: flag,
  PROVIDER: oneOf(PROVIDER_SETTINGS, "auto"),
  // Which OpenAI API the upstream is spoken to with; auto: Chat Completions unless a model needs
  // the Responses API.
  OPENAI_API: oneOf(["chat", "responses", "auto"], "auto"),
  AZURE_API_VERSION: optional,
  OPENROUTER_REFERER: optional,
  OPENROUTER_TITLE: optional,
  EXTRA_BODY: z
    .string()
    .default("")
    .transform((v, ctx) => {
      if (v.trim() === "") return {} as Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(v);
        if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
          return parsed as Record<string, unknown>;
        }
      } catch {
        // reported below
      }
      ctx.addIssue({ code: "custom", message: "must be a JSON object" });
      return z.NEVER;
    }),
  REASONING_MODELS: list,
  NON_REASONING_MODELS: list,
  // Thinking budgets up to these many tokens ask for low / medium reasoning effort; above, high.
  THINKING_LOW_MAX_BUDGET: integer(1, Number.MAX_SAFE_INTEGER, 4_096),
  THINKING_MEDIUM_MAX_BUDGET: integer(1, Number.MAX_SAFE_INTEGER, 16_384),
  MIDCONVERSATION_SYSTEM: optionalOneOf(["merge", "keep"]),
  MODEL_LIMITS: z.string().default("").transform((v, ctx) => {
    if (v.trim() === "") return {};
    let value: unknown;
    try {
      value = JSON.parse(v);
    } catch {
      ctx.addIssue({
        code: "custom",
        message: 'must be JSON like {"my-model":{"context":32768,"output":8192}}',
      });
      return z.NEVER;
    }
    const parsed = ModelLimitsSchema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    ctx.addIssue({
      code: "custom",
      message: `${issue?.path.join(".") || "value"}: ${issue?.message ?? "invalid"} ` +
        '(expected JSON like {"my-model":{"context":32768,"output":8192}})',
    });
    return z.NEVER;
  }),
  SEARCH_PROVIDER: optionalOneOf(SEARCH_BACKENDS),
  BRAVE_API_KEY: optional,
  TAVILY_API_KEY: optional,
  SEARXNG_URL: optional.pipe(
    z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).optional(),
  ),
  SEARCH_BASE_URL: optional.pipe(
    z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).optional(),
  ),
  SEARCH_TIMEOUT: seconds(15),
  SEARCH_MAX_RESULTS: integer(1, 20, 5),
  WEB_FETCH_MAX_BYTES: integer(1, 64 * 1024 * 1024, 2 * 1024 * 1024),
  CONFIG_FILE: optional,
  METRICS: flag.default(true),
  DASHBOARD: flag.default(true),
  USAGE_DB: optional,
  USAGE_RETENTION_DAYS: numberIn({
    min: 0,
    max: 36_500,
    integer: false,
    above: true,
    unit: "of days",
  })
    .transform((d) => d ?? 30),
  RECORD_DIR: optional,
  RECORD_MAX_FILE_BYTES: integer(1, Number.MAX_SAFE_INTEGER, 10 * 1024 * 1024),
  RECORD_MAX_DIR_BYTES: integer(1, Number.MAX_SAFE_INTEGER, 1024 * 1024 * 1024),
});

/** Every variable the proxy reads (besides CUSTOM_HEADER_*), for docs checks. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(EnvSchema.shape);

/** Servers that run without a key wherever they are (a LAN box, a Docker service name). */
const KEYLESS_SERVERS: ReadonlySet<string> = new Set(["ollama", "lmstudio", "vllm", "llamacpp"]);

export type Config = Readonly<{
  openaiApiKey: string | undefined;
  openaiBaseUrl: string;
  bigModel: string;
  middleModel: string;
  smallModel: string;
  anthropicApiKey: string | undefined;
  host: string;
  port: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  requestTimeoutMs: number;
  firstByteTimeoutMs: number;
  nonStreamFirstByteTimeoutMs: number;
  streamIdleTimeoutMs: number;
  pingIntervalMs: number;
  shutdownGraceMs: number;
  maxRetries: number;
  retryMaxDelayMs: number;
  maxTokensLimit: number | undefined;
  maxRequestBytes: number;
  allowRemoteWithoutKey: boolean;
  provider: ProviderSetting;
  openaiApi: "chat" | "responses" | "auto";
  azureApiVersion: string | undefined;
  openrouterReferer: string | undefined;
  openrouterTitle: string | undefined;
  customHeaders: Readonly<Record<string, string>>;
  extraBody: Readonly<Record<string, unknown>>;
  reasoningModels: readonly string[];
  nonReasoningModels: readonly string[];
  /** Thinking budget (tokens) → reasoning effort: ≤ lowMax is low, ≤ mediumMax medium, else high. */
  effortThresholds: Readonly<{ lowMax: number; mediumMax: number }>;
  midConversationSystem: "merge" | "keep" | undefined;
  /** MODEL_LIMITS: context window and output limit per upstream model (lower-case names). */
  modelLimits: ModelLimits;
  /** The web search backend (SEARCH_PROVIDER …); undefined: server tools are left out. */
  search: SearchSettings | undefined;
  /** SEARCH_TIMEOUT, SEARCH_MAX_RESULTS, WEB_FETCH_MAX_BYTES: for backends a config file names. */
  searchLimits: Readonly<Pick<SearchSettings, "timeoutMs" | "maxResults" | "fetchMaxBytes">>;
  /** The routing configuration file (providers, routes, fallback); undefined: the variables'. */
  configFile: string | undefined;
  /** `GET /metrics`. */
  metrics: boolean;
  /** `/ui` and its live feed. */
  dashboard: boolean;
  /** The usage history's SQLite file; undefined: no history on disk. */
  usageDb: string | undefined;
  usageRetentionMs: number;
  /** Each exchange is written here as one file (see server/exchange_recorder.ts). */
  recordDir: string | undefined;
  recordMaxFileBytes: number;
  recordMaxDirBytes: number;
}>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Where the usage history goes without USAGE_DB: the user's data directory (XDG_DATA_HOME, or
 * LOCALAPPDATA on Windows, or ~/.local/share), or nowhere when none is known (a container
 * without HOME).
 */
function defaultUsageDb(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const base = env.XDG_DATA_HOME?.trim() || env.LOCALAPPDATA?.trim() ||
    (env.HOME?.trim() ? `${env.HOME.trim().replace(/\/+$/, "")}/.local/share` : undefined);
  return base ? `${base.replace(/[\\/]+$/, "")}/claude-code-proxy/usage.db` : undefined;
}

/**
 * The usage history's file from USAGE_DB: a path, `off` (or false, no, 0, none) for no history,
 * unset or empty for the default. Read on its own by `usage`, which needs no upstream key.
 */
export function usageDbPath(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const value = env.USAGE_DB?.trim();
  if (!value) return defaultUsageDb(env);
  return ["off", "false", "no", "0", "none"].includes(value.toLowerCase()) ? undefined : value;
}

function onDenoDeploy(env: Readonly<Record<string, string | undefined>>): boolean {
  return (env.DENO_DEPLOYMENT_ID ?? "").trim() !== "";
}

export type ConfigOptions = {
  /**
   * How the user set a variable, for error messages: `--port` for a flag, `PORT in .env` for
   * the file. Default: the variable's name.
   */
  sourceOf?: (variable: string) => string;
};

/** Builds the config from a variable map (the environment merged over `.env`). */
export function configFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  opts: ConfigOptions = {},
): Config {
  const sourceOf = opts.sourceOf ?? ((v: string) => v);
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${sourceOf(i.path.join("."))}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const baseHost = new URL(e.OPENAI_BASE_URL).hostname;
  const provider = e.PROVIDER === "auto" ? detectProvider(e.OPENAI_BASE_URL) : e.PROVIDER;
  // Local servers (Ollama, LM Studio, vLLM on this machine) ignore the key, and so does Ollama
  // anywhere (`http://ollama:11434` in Docker); everything else needs one.
  // With a configuration file, the providers and their keys come from the file.
  if (
    !e.OPENAI_API_KEY && !e.CONFIG_FILE && !isLoopbackHost(baseHost) &&
    !KEYLESS_SERVERS.has(provider)
  ) {
    throw new ConfigError(
      "invalid configuration:\n  OPENAI_API_KEY: required (the key of your OpenAI-compatible " +
        `provider at ${e.OPENAI_BASE_URL}); only a server on this machine or Ollama needs none`,
    );
  }
  // Deno Deploy (classic and current; both set DENO_DEPLOYMENT_ID) serves the program on a public
  // address whatever HOST says: https://docs.deno.com/deploy/reference/env_vars_and_contexts/
  if (!e.ANTHROPIC_API_KEY && onDenoDeploy(env) && !e.ALLOW_REMOTE_WITHOUT_KEY) {
    throw new ConfigError(
      "refusing to serve on Deno Deploy without ANTHROPIC_API_KEY: the deployment is public, so " +
        "anyone could spend your upstream key. Set ANTHROPIC_API_KEY in the deployment's " +
        "environment (clients must then send it).",
    );
  }
  const hostFrom = sourceOf("HOST") === "HOST" ? "" : ` (from ${sourceOf("HOST")})`;
  if (!e.ANTHROPIC_API_KEY && !isLoopbackHost(e.HOST) && !e.ALLOW_REMOTE_WITHOUT_KEY) {
    throw new ConfigError(
      `refusing to listen on HOST=${e.HOST}${hostFrom} without ANTHROPIC_API_KEY: anyone who ` +
        "can reach this address could spend your upstream key. Set ANTHROPIC_API_KEY (clients " +
        "must then send it), or set ALLOW_REMOTE_WITHOUT_KEY=true if the network is trusted.",
    );
  }
  if (e.THINKING_LOW_MAX_BUDGET >= e.THINKING_MEDIUM_MAX_BUDGET) {
    throw new ConfigError(
      `invalid configuration:\n  ${sourceOf("THINKING_LOW_MAX_BUDGET")}: must be below ` +
        `${sourceOf("THINKING_MEDIUM_MAX_BUDGET")} (got ${e.THINKING_LOW_MAX_BUDGET} and ` +
        `${e.THINKING_MEDIUM_MAX_BUDGET})`,
    );
  }
  const search = searchSettings(e);
  const customHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith("CUSTOM_HEADER_") && value !== undefined && name.length > 14) {
      customHeaders[name.slice(14).toLowerCase().replaceAll("_", "-")] = value;
    }
  }
  return Object.freeze({
    openaiApiKey: e.OPENAI_API_KEY,
    openaiBaseUrl: e.OPENAI_BASE_URL,
    bigModel: e.BIG_MODEL,
    middleModel: e.MIDDLE_MODEL ?? e.BIG_MODEL,
    smallModel: e.SMALL_MODEL,
    anthropicApiKey: e.ANTHROPIC_API_KEY,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    requestTimeoutMs: e.REQUEST_TIMEOUT,
    firstByteTimeoutMs: e.FIRST_BYTE_TIMEOUT,
    nonStreamFirstByteTimeoutMs: e.NONSTREAM_FIRST_BYTE_TIMEOUT,
    streamIdleTimeoutMs: e.STREAM_IDLE_TIMEOUT,
    pingIntervalMs: e.PING_INTERVAL,
    shutdownGraceMs: e.SHUTDOWN_GRACE,
    maxRetries: e.MAX_RETRIES,
    retryMaxDelayMs: e.RETRY_MAX_DELAY,
    maxTokensLimit: e.MAX_TOKENS_LIMIT,
    maxRequestBytes: e.MAX_REQUEST_BYTES,
    allowRemoteWithoutKey: e.ALLOW_REMOTE_WITHOUT_KEY,
    provider: e.PROVIDER,
    openaiApi: e.OPENAI_API,
    azureApiVersion: e.AZURE_API_VERSION,
    openrouterReferer: e.OPENROUTER_REFERER,
    openrouterTitle: e.OPENROUTER_TITLE,
    customHeaders: Object.freeze(customHeaders),
    extraBody: Object.freeze(e.EXTRA_BODY),
    reasoningModels: Object.freeze(e.REASONING_MODELS),
    nonReasoningModels: Object.freeze(e.NON_REASONING_MODELS),
    effortThresholds: Object.freeze({
      lowMax: e.THINKING_LOW_MAX_BUDGET,
      mediumMax: e.THINKING_MEDIUM_MAX_BUDGET,
    }),
    midConversationSystem: e.MIDCONVERSATION_SYSTEM,
    modelLimits: Object.freeze(e.MODEL_LIMITS),
    search,
    searchLimits: Object.freeze({
      timeoutMs: e.SEARCH_TIMEOUT,
      maxResults: e.SEARCH_MAX_RESULTS,
      fetchMaxBytes: e.WEB_FETCH_MAX_BYTES,
    }),
    configFile: e.CONFIG_FILE,
    metrics: e.METRICS,
    dashboard: e.DASHBOARD,
    usageDb: usageDbPath(env),
    usageRetentionMs: e.USAGE_RETENTION_DAYS * 86_400_000,
    recordDir: e.RECORD_DIR,
    recordMaxFileBytes: e.RECORD_MAX_FILE_BYTES,
    recordMaxDirBytes: e.RECORD_MAX_DIR_BYTES,
  });
}

/** SEARCH_PROVIDER and the key or URL it needs → the search settings; a missing one is named. */
function searchSettings(e: z.infer<typeof EnvSchema>): SearchSettings | undefined {
  const backend = e.SEARCH_PROVIDER;
  if (backend === undefined) return undefined;
  const needs = backend === "brave"
    ? ["BRAVE_API_KEY", e.BRAVE_API_KEY]
    : backend === "tavily"
    ? ["TAVILY_API_KEY", e.TAVILY_API_KEY]
    : ["SEARXNG_URL", e.SEARXNG_URL];
  if (needs[1] === undefined) {
    throw new ConfigError(
      `invalid configuration:\n  ${needs[0]}: required when SEARCH_PROVIDER=${backend}`,
    );
  }
  const root = e.SEARCH_BASE_URL ??
    (backend === "searxng" ? e.SEARXNG_URL! : DEFAULT_SEARCH_URLS[backend]);
  return Object.freeze({
    backend,
    baseUrl: root.replace(/\/+$/, ""),
    apiKey: backend === "brave"
      ? e.BRAVE_API_KEY
      : backend === "tavily"
      ? e.TAVILY_API_KEY
      : undefined,
    timeoutMs: e.SEARCH_TIMEOUT,
    maxResults: e.SEARCH_MAX_RESULTS,
    fetchMaxBytes: e.WEB_FETCH_MAX_BYTES,
  });
}

/**
 * The variables of a `.env` file's text (undefined: no file). A missing file is fine unless it
 * was named explicitly. Real environment variables win over the file, as with every loader.
 */
export function envFileVars(
  path: string,
  text: string | undefined,
  required: boolean,
): Record<string, string> {
  if (text === undefined) {
    if (required) throw new ConfigError(`cannot read env file ${path}: not found`);
    return {};
  }
  return parseDotenv(text);
}
